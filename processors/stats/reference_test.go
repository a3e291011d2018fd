package stats

import (
	"math"
	"testing"
)

// Expected values in this file were computed once with SciPy 1.10.1,
// NumPy 1.24.2 and statsmodels 0.13.5 (Debian 12 packages) by
// testdata/scipy_reference.py; each comment names the call. Tolerances:
// 1e-6 absolute for statistics and distances, 1e-4 for p-values and
// interval ends (whose tails go through different special-function code).
const (
	tolStat = 1e-6
	tolP    = 1e-4
)

var (
	refX  = []float64{0.6, 0.5, -0.6, -1.2, -0.1, 1.2, 1.3, 0.9, 0.3, 1.6, 1.2, -0.2, -1.1, -0.4, -0.4, 0.7, -1.9, -0.2, 1.7, -0.9, -0.8, -0.1, -1.4, -0.1, 0.0}
	refY  = []float64{0.5, -0.8, 0.0, 1.3, -0.4, 1.2, 1.4, -1.4, -0.3, 1.4, 1.1, 0.7, 0.0, 0.6, 2.9, 0.2, 1.3, 0.0, 0.2, 1.3, -0.7, 0.2, -0.3, -0.6, 0.7, 2.1, 0.8, 0.0, -1.4, 1.6}
	refP  = []float64{20, 19, 38, 35, 13, 40, 44, 46, 22, 18, 28, 48}
	refQ  = []float64{35, 43, 2, 48, 23, 37, 48, 8, 24, 34, 25, 43}
	refPZ = []float64{20, 0, 38, 35, 13, 40, 44, 46, 22, 18, 28, 48}
)

// bigXY are the integer-valued samples BX, BY of scipy_reference.py.
func bigXY(shift float64) (x, y []float64) {
	for i := 0; i < 200; i++ {
		x = append(x, float64((i*7919)%1009)/10)
	}
	for j := 0; j < 150; j++ {
		y = append(y, float64((j*104729)%1013)/10+8+shift)
	}
	return x, y
}

func near(t *testing.T, name string, got, want, tol float64) {
	t.Helper()
	if !(math.Abs(got-want) <= tol) {
		t.Errorf("%s = %.12g, want %.12g (tol %g)", name, got, want, tol)
	}
}

func TestKS2SampleSciPy(t *testing.T) {
	// stats.ks_2samp(X, Y, method="exact") -> (0.29333333333333333, 0.15677204079225718)
	r := KS2Sample(refX, refY)
	near(t, "D small", r.D, 0.29333333333333333, tolStat)
	near(t, "P small", r.P, 0.15677204079225718, tolP)
	if !r.Exact {
		t.Error("small samples should use the exact p-value")
	}
	bx, by := bigXY(0)
	// stats.ks_2samp(BX, BY, method="exact") -> (0.08333333333333333, 0.5663139897165717)
	r = KS2Sample(bx, by)
	near(t, "D big", r.D, 0.08333333333333333, tolStat)
	near(t, "P big", r.P, 0.5663139897165717, tolP)
	// stats.ks_2samp(BX, BY+20, method="exact") -> (0.2816666666666667, 1.8117722064780732e-06)
	bx, by = bigXY(20)
	r = KS2Sample(bx, by)
	near(t, "D shift", r.D, 0.2816666666666667, tolStat)
	near(t, "P shift", r.P, 1.8117722064780732e-06, tolP)
	if rel := math.Abs(r.P/1.8117722064780732e-06 - 1); rel > 1e-6 {
		t.Errorf("P shift relative error %g, want <= 1e-6 (mass leaving the band is summed directly)", rel)
	}
}

func TestKolmogorovSFSciPy(t *testing.T) {
	// [special.kolmogorov(v) for v in (0.1, 0.3, 0.8, 0.99, 1.0, 1.36, 2.5, 4.0)]
	in := []float64{0.1, 0.3, 0.8, 0.99, 1.0, 1.36, 2.5, 4.0}
	want := []float64{1.0, 0.9999906941986655, 0.5441424115741981, 0.2808738392255489, 0.26999967167735456, 0.049485876755377876, 7.453306344157342e-06, 2.532833109818835e-14}
	for i, x := range in {
		near(t, "KolmogorovSF", KolmogorovSF(x), want[i], 1e-12)
	}
}

// refHistograms bins refX and refY over np.linspace(-2, 2, 9) with under and
// overflow, as hcounts() in scipy_reference.py.
func refHistograms(t *testing.T) (*Histogram, *Histogram) {
	t.Helper()
	hx, err := NewHistogram(LinearEdges(-2, 2, 8))
	if err != nil {
		t.Fatal(err)
	}
	hy := hx.Clone()
	for _, v := range refX {
		hx.Add(v)
	}
	for _, v := range refY {
		hy.Add(v)
	}
	// hist_counts = ([0, 1, 3, 3, 7, 2, 4, 3, 2, 0], [0, 0, 2, 3, 3, 7, 5, 7, 1, 2])
	wx := []float64{0, 1, 3, 3, 7, 2, 4, 3, 2, 0}
	wy := []float64{0, 0, 2, 3, 3, 7, 5, 7, 1, 2}
	for i := range wx {
		if hx.Counts[i] != wx[i] || hy.Counts[i] != wy[i] {
			t.Fatalf("counts %v %v, want %v %v", hx.Counts, hy.Counts, wx, wy)
		}
	}
	return hx, hy
}

func TestKSHistogramSciPy(t *testing.T) {
	hx, hy := refHistograms(t)
	// d = max|cumsum(hx)/25 − cumsum(hy)/30| over edges; special.kolmogorov(sqrt(en)*d)
	// -> (0.2933333333333334, 0.1912075121483556)
	r := KSHistogram(hx, hy)
	near(t, "D", r.D, 0.2933333333333334, tolStat)
	near(t, "P", r.P, 0.1912075121483556, tolP)
}

func TestWassersteinSciPy(t *testing.T) {
	// stats.wasserstein_distance(X, Y) -> 0.4293333333333334
	near(t, "samples", WassersteinSamples(refX, refY), 0.4293333333333334, tolStat)
	bx, by := bigXY(0)
	// stats.wasserstein_distance(BX, BY) -> 6.834333333333333
	near(t, "big", WassersteinSamples(bx, by), 6.834333333333333, tolStat)
	hx, hy := refHistograms(t)
	// stats.wasserstein_distance(mid, mid, hx, hy) -> 0.4333333333333334
	near(t, "histogram", WassersteinHistogram(hx, hy), 0.4333333333333334, tolStat)
	mid := hx.Midpoints()
	near(t, "weighted", WassersteinWeighted(mid, hx.Counts, mid, hy.Counts), 0.4333333333333334, tolStat)
}

func TestChiSquareSciPy(t *testing.T) {
	// c = stats.chi2_contingency([P, Q], correction=False); (c[0], c[2], c[1])
	// -> (83.08006274885871, 11, 3.733270269593814e-13)
	r := ChiSquareHomogeneity(refP, refQ)
	near(t, "stat", r.Stat, 83.08006274885871, tolStat)
	near(t, "dof", r.DoF, 11, 0)
	near(t, "p", r.P, 3.733270269593814e-13, tolP)
	// stats.chi2_contingency([[30, 70], [45, 55]], correction=False) -> (4.8, 1, 0.028459736916310638)
	r = ChiSquareHomogeneity([]float64{30, 70}, []float64{45, 55})
	near(t, "stat 2x2", r.Stat, 4.8, tolStat)
	near(t, "dof 2x2", r.DoF, 1, 0)
	near(t, "p 2x2", r.P, 0.028459736916310638, tolP)
}

func TestMannWhitneySciPy(t *testing.T) {
	// stats.mannwhitneyu(X, Y, method="asymptotic") -> (282.0, 0.11751566454118144)
	r := MannWhitneyU(refX, refY)
	near(t, "U small", r.U1, 282, tolStat)
	near(t, "P small", r.P, 0.11751566454118144, tolP)
	bx, by := bigXY(0)
	// stats.mannwhitneyu(BX, BY, method="asymptotic") -> (13050.0, 0.037421457237049406)
	r = MannWhitneyU(bx, by)
	near(t, "U big", r.U1, 13050, tolStat)
	near(t, "P big", r.P, 0.037421457237049406, tolP)
}

func TestWelchSciPy(t *testing.T) {
	var a, b Moments
	for _, v := range refX {
		a.Add(v)
	}
	for _, v := range refY {
		b.Add(v)
	}
	// (np.mean(X), np.var(X, ddof=1), np.mean(Y), np.var(Y, ddof=1))
	// -> (0.024000000000000004, 0.9360666666666666, 0.45333333333333325, 0.9984367816091955)
	near(t, "mean X", a.Mean, 0.024000000000000004, 1e-12)
	near(t, "var X", a.Variance(), 0.9360666666666666, 1e-12)
	near(t, "mean Y", b.Mean, 0.45333333333333325, 1e-12)
	near(t, "var Y", b.Variance(), 0.9984367816091955, 1e-12)
	// stats.ttest_ind_from_stats(m1, sqrt(v1), 25, m2, sqrt(v2), 30, equal_var=False),
	// Welch df by hand, CI with stats.t.ppf(0.975, df):
	// -> (-1.6144014165069276, 51.77424955096618, 0.11251919434358072, -0.9630356549809734, 0.10436898831430697)
	r := WelchTTestMoments(a, b, 0.95)
	near(t, "t", r.T, -1.6144014165069276, tolStat)
	near(t, "df", r.DoF, 51.77424955096618, tolStat)
	near(t, "p", r.P, 0.11251919434358072, tolP)
	near(t, "lo", r.Lo, -0.9630356549809734, tolP)
	near(t, "hi", r.Hi, 0.10436898831430697, tolP)
	// stats.ttest_ind_from_stats(10.0, 2.0, 1000, 10.4, 3.0, 800, equal_var=False)
	// -> (-3.239105320715667, 0.001228604690214476)
	r = WelchTTest(1000, 10, 4, 800, 10.4, 9, 0.95)
	near(t, "t stats", r.T, -3.239105320715667, tolStat)
	near(t, "p stats", r.P, 0.001228604690214476, tolP)
}

func TestJSDistanceSciPy(t *testing.T) {
	// distance.jensenshannon(P, Q, base=2) -> 0.301722911891846
	near(t, "js", JSDistance(refP, refQ), 0.301722911891846, tolStat)
	// distance.jensenshannon(PZ, Q, base=2) -> 0.37836078008332596
	near(t, "js zero bin", JSDistance(refPZ, refQ), 0.37836078008332596, tolStat)
}

func TestPSIReference(t *testing.T) {
	// psi(a, b) in scipy_reference.py: the definition with proportions floored at 1e-4.
	// psi(P, Q) -> 0.5992369329484779; psi(PZ, Q) -> 1.394345444660934
	near(t, "psi", PSI(refP, refQ), 0.5992369329484779, tolStat)
	near(t, "psi zero bin", PSI(refPZ, refQ), 1.394345444660934, tolStat)
}

func TestProportionsStatsmodels(t *testing.T) {
	// proportions_ztest([45, 60], [200, 210]) -> (-1.4078711010373657, 0.1591692417635341)
	// Wald CI by hand with stats.norm.ppf(0.975) -> (-0.14487168611457374, 0.023443114686002367)
	r := TwoProportionZTest(45, 200, 60, 210, 0.95)
	near(t, "z", r.Z, -1.4078711010373657, tolStat)
	near(t, "p", r.P, 0.1591692417635341, tolP)
	near(t, "lo", r.Lo, -0.14487168611457374, tolP)
	near(t, "hi", r.Hi, 0.023443114686002367, tolP)
	// proportion_confint(45, 200, alpha=0.05, method="wilson") -> (0.17262369715089126, 0.2877412323566053)
	lo, hi := Wilson(45, 200, 0.95)
	near(t, "wilson lo", lo, 0.17262369715089126, tolP)
	near(t, "wilson hi", hi, 0.2877412323566053, tolP)
	// proportion_confint(0, 50, alpha=0.05, method="wilson") -> (0.0, 0.07134759913335874)
	lo, hi = Wilson(0, 50, 0.95)
	near(t, "wilson0 lo", lo, 0, tolP)
	near(t, "wilson0 hi", hi, 0.07134759913335874, tolP)
}

func TestMultipleTestingStatsmodels(t *testing.T) {
	p := []float64{0.01, 0.04, 0.03, 0.005, 0.2}
	// multipletests(pv, method="holm")[1] -> [0.04, 0.09, 0.09, 0.025, 0.2]
	wantHolm := []float64{0.04, 0.09, 0.09, 0.025, 0.2}
	// multipletests(pv, method="fdr_bh")[1] -> [0.025, 0.05, 0.05, 0.025, 0.2]
	wantBH := []float64{0.025, 0.05, 0.05, 0.025, 0.2}
	h, b := HolmBonferroni(p), BenjaminiHochberg(p)
	for i := range p {
		near(t, "holm", h[i], wantHolm[i], 1e-12)
		near(t, "bh", b[i], wantBH[i], 1e-12)
	}
}

func TestEmbeddingReference(t *testing.T) {
	e1 := [][]float64{{0.1, 0.2, 0.0}, {0.3, -0.1, 0.5}, {0.0, 0.4, 0.2}, {0.2, 0.2, 0.1}}
	e2 := [][]float64{{0.5, 0.1, 0.3}, {0.6, 0.0, 0.2}, {0.4, 0.3, 0.6}}
	// mmd2(E1, E2, linear) by the definition (Gretton et al. 2012 eq. 3) -> 0.09999999999999987
	near(t, "mmd2 linear", MMD2(e1, e2, Kernel{Kind: Linear}), 0.09999999999999987, tolStat)
	// mmd2(E1, E2, rbf with 2σ² = 0.5) -> 0.2708303608300713
	near(t, "mmd2 rbf", MMD2(e1, e2, Kernel{Kind: RBF, Bandwidth: 0.5}), 0.2708303608300713, tolStat)
	// distance.cosine(E1.mean(0), E2.mean(0)) -> 0.11300779973233033
	near(t, "centroid cosine", CentroidDistance(e1, e2, Cosine), 0.11300779973233033, tolStat)
	// distance.euclidean(E1.mean(0), E2.mean(0)) -> 0.38988958550965286
	near(t, "centroid euclidean", CentroidDistance(e1, e2, Euclidean), 0.38988958550965286, tolStat)
}
