package stats

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

func TestHistogramBinsAndMerge(t *testing.T) {
	if _, err := NewHistogram([]float64{1}); !errors.Is(err, ErrEdges) {
		t.Errorf("one edge: err %v, want ErrEdges", err)
	}
	if _, err := NewHistogram([]float64{0, 1, 1}); !errors.Is(err, ErrEdges) {
		t.Errorf("repeated edge: err %v, want ErrEdges", err)
	}
	if _, err := NewHistogram([]float64{0, math.NaN()}); !errors.Is(err, ErrEdges) {
		t.Errorf("NaN edge: err %v, want ErrEdges", err)
	}
	h, err := NewHistogram([]float64{0, 1, 2})
	if err != nil {
		t.Fatal(err)
	}
	// Bins are left-closed: [0,1) [1,2); 2 goes to overflow.
	for _, x := range []float64{-1, 0, 0.5, 1, 1.5, 2, 3, math.NaN(), math.Inf(-1), math.Inf(1)} {
		h.Add(x)
	}
	want := []float64{2, 2, 2, 3}
	for i := range want {
		if h.Counts[i] != want[i] {
			t.Fatalf("counts %v, want %v", h.Counts, want)
		}
	}
	if h.NaN != 1 || h.Total() != 9 {
		t.Errorf("NaN %v total %v, want 1 and 9", h.NaN, h.Total())
	}
	// CDF at the edges: below 0, below 1, below 2.
	cdf := h.CDF()
	for i, w := range []float64{2.0 / 9, 4.0 / 9, 6.0 / 9} {
		near(t, "cdf", cdf[i], w, 1e-15)
	}
	// Merging two halves equals adding everything to one histogram.
	a, _ := NewHistogram(LinearEdges(-3, 3, 16))
	b, all := a.Clone(), a.Clone()
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 1000; i++ {
		x := rng.NormFloat64() * 2
		all.Add(x)
		if i%3 == 0 {
			a.Add(x)
		} else {
			b.Add(x)
		}
	}
	if err := a.Merge(b); err != nil {
		t.Fatal(err)
	}
	for i := range all.Counts {
		if a.Counts[i] != all.Counts[i] {
			t.Fatalf("merged counts %v, want %v", a.Counts, all.Counts)
		}
	}
	other, _ := NewHistogram(LinearEdges(-3, 3, 8))
	if err := a.Merge(other); !errors.Is(err, ErrEdgesMismatch) {
		t.Errorf("merge with other edges: %v, want ErrEdgesMismatch", err)
	}
	if LinearEdges(1, 1, 4) != nil || LinearEdges(0, 1, 0) != nil {
		t.Error("LinearEdges should reject empty ranges")
	}
	q := QuantileEdges([]float64{1, 2, 3, 4, 5}, 4)
	for i, w := range []float64{1, 2, 3, 4, 5} {
		near(t, "quantile edge", q[i], w, 0)
	}
	if QuantileEdges([]float64{7, 7, 7}, 4) != nil {
		t.Error("QuantileEdges of a constant sample should be nil")
	}
}

func TestMomentsMerge(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var all Moments
	parts := make([]Moments, 5)
	xs := make([]float64, 0, 1000)
	for i := 0; i < 1000; i++ {
		x := 1e6 + rng.NormFloat64()*3 // large offset: the naive sum-of-squares formula loses digits here
		xs = append(xs, x)
		all.Add(x)
		parts[i%5].Add(x)
	}
	var merged Moments
	for _, p := range parts {
		merged.Merge(p)
	}
	// Two-pass reference.
	var mean, m2 float64
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	for _, x := range xs {
		m2 += (x - mean) * (x - mean)
	}
	for _, m := range []Moments{all, merged} {
		near(t, "n", m.N, 1000, 0)
		near(t, "mean", m.Mean, mean, 1e-12*mean)
		near(t, "variance", m.Variance(), m2/999, 1e-9*m2/999)
	}
	var empty Moments
	if !math.IsNaN(empty.Variance()) {
		t.Error("variance of an empty summary should be NaN")
	}
	empty.Merge(Moments{})
	empty.Add(math.NaN())
	if empty.N != 0 {
		t.Error("NaN and empty merges must not count")
	}
}

// TestNoPanicOnBadInput checks the package contract: empty, short,
// mismatched and NaN input gives NaN, never a panic.
func TestNoPanicOnBadInput(t *testing.T) {
	h, _ := NewHistogram([]float64{0, 1})
	g, _ := NewHistogram([]float64{0, 2})
	empty := h.Clone()
	h.Add(0.5)
	nan := []struct {
		name string
		v    float64
	}{
		{"PSI empty", PSI(nil, nil)},
		{"PSI mismatched", PSI([]float64{1}, []float64{1, 2})},
		{"PSI negative", PSI([]float64{-1, 2}, []float64{1, 2})},
		{"PSIHistogram edges", PSIHistogram(h, g)},
		{"PSIHistogram empty", PSIHistogram(h, empty)},
		{"JS zero", JSDistance([]float64{0, 0}, []float64{1, 2})},
		{"JSHistogram nil", JSDistanceHistogram(nil, h)},
		{"KS empty", KS2Sample(nil, []float64{1}).P},
		{"KS NaN only", KS2Sample([]float64{math.NaN()}, []float64{1}).D},
		{"KSHistogram edges", KSHistogram(h, g).P},
		{"Wasserstein empty", WassersteinSamples([]float64{1}, nil)},
		{"Wasserstein weights", WassersteinWeighted([]float64{1}, []float64{1, 2}, []float64{1}, nil)},
		{"WassersteinHistogram empty", WassersteinHistogram(empty, h)},
		{"ChiSquare one column", ChiSquareHomogeneity([]float64{3, 0}, []float64{4, 0}).P},
		{"ChiSquare empty row", ChiSquareHomogeneity([]float64{0, 0}, []float64{4, 1}).P},
		{"MannWhitney empty", MannWhitneyU(nil, []float64{1, 2}).P},
		{"Welch n<2", WelchTTest(1, 0, 1, 10, 0, 1, 0.95).P},
		{"Welch zero variance", WelchTTest(5, 1, 0, 5, 2, 0, 0.95).P},
		{"TwoProportion n=0", TwoProportionZTest(0, 0, 1, 2, 0.95).P},
		{"TwoProportion x>n", TwoProportionZTest(3, 2, 1, 2, 0.95).Diff},
		{"Wilson n=0", func() float64 { lo, _ := Wilson(0, 0, 0.95); return lo }()},
		{"Wilson confidence", func() float64 { lo, _ := Wilson(1, 2, 1); return lo }()},
		{"MSPRT zero variance", MSPRT(1, 0, 1)},
		{"MSPRTMeans empty", MSPRTMeans(Moments{}, Moments{}, 0)},
		{"MSPRTProportions p=0", MSPRTProportions(0, 10, 0, 10, 0)},
		{"Centroid empty", CentroidDistance(nil, [][]float64{{1}}, Cosine)},
		{"Centroid dims", CentroidDistance([][]float64{{1, 2}}, [][]float64{{1}}, Euclidean)},
		{"Cosine zero", VectorDistance([]float64{0, 0}, []float64{1, 0}, Cosine)},
		{"MMD2 short", MMD2([][]float64{{1}}, [][]float64{{1}, {2}}, Kernel{})},
		{"MMD2 dims", MMD2([][]float64{{1}, {2}}, [][]float64{{1}, {2, 3}}, Kernel{})},
	}
	for _, c := range nan {
		if !math.IsNaN(c.v) {
			t.Errorf("%s = %v, want NaN", c.name, c.v)
		}
	}
	if MannWhitneyU([]float64{1, 1}, []float64{1, 1}).P != 1 {
		t.Error("all-tied Mann-Whitney should give P = 1")
	}
	if r := KS2Sample([]float64{1, 2}, []float64{1, 2}); r.D != 0 || r.P != 1 {
		t.Errorf("identical samples: %+v, want D=0 P=1", r)
	}
	if r := TwoProportionZTest(0, 10, 0, 20, 0.95); r.Z != 0 || r.P != 1 {
		t.Errorf("both rates zero: %+v, want Z=0 P=1", r)
	}
	if d := DisparityTest(nil, DisparityOptions{}); d.Comparisons != 0 || d.Reference != "" {
		t.Errorf("no groups: %+v", d)
	}
}

func TestDisparityTest(t *testing.T) {
	groups := []GroupCount{
		{Group: "en", Positives: 400, N: 2000},
		{Group: "de", Positives: 500, N: 1500},
		{Group: "fr", Positives: 5, N: 10}, // below MinGroupSize
		{Group: "es", Positives: 205, N: 1000},
	}
	r := DisparityTest(groups, DisparityOptions{})
	if r.Reference != "en" || r.Comparisons != 2 {
		t.Fatalf("reference %q comparisons %d, want en and 2", r.Reference, r.Comparisons)
	}
	fr := r.Groups[2]
	if fr.Sufficient || !math.IsNaN(fr.P) {
		t.Errorf("fr should be insufficient and untested: %+v", fr)
	}
	de := r.Groups[1]
	near(t, "de diff", de.RateDiff, 500.0/1500-0.2, 1e-12)
	near(t, "de ratio", de.Ratio, (500.0/1500)/0.2, 1e-12)
	// Holm with two comparisons: the smallest p-value is doubled.
	es := r.Groups[3]
	pmin := math.Min(de.P, es.P)
	near(t, "holm smallest", math.Min(de.PAdjusted, es.PAdjusted), 2*pmin, 1e-15)
	if !de.Significant || es.Significant {
		t.Errorf("de (33%% vs 20%%) should be significant, es (20.5%% vs 20%%) not: %+v %+v", de, es)
	}
	near(t, "min ratio", r.MinRatio, 0.2/(500.0/1500), 1e-12)
}

// TestMSPRTAlwaysValid checks the property that justifies the test: under
// H0, peeking after every batch of 100 events for 50 looks rejects at
// α = 0.05 in at most α of the runs (a fixed-horizon z-test peeked at as
// often rejects in about 30%). 400 runs; the bound allows 2 binomial SEs.
func TestMSPRTAlwaysValid(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	const runs, looks, batch, alpha = 400, 50, 100, 0.05
	rejected, naive := 0, 0
	for r := 0; r < runs; r++ {
		var a, b Moments
		var av AlwaysValidP
		rej, nrej := false, false
		for l := 0; l < looks; l++ {
			for i := 0; i < batch; i++ {
				a.Add(rng.NormFloat64())
				b.Add(rng.NormFloat64())
			}
			if av.Update(MSPRTMeans(a, b, 0)) <= alpha {
				rej = true
			}
			if WelchTTestMoments(a, b, 0.95).P <= alpha {
				nrej = true
			}
		}
		if rej {
			rejected++
		}
		if nrej {
			naive++
		}
	}
	rate := float64(rejected) / runs
	t.Logf("always-valid rejections %.3f, naive peeking %.3f", rate, float64(naive)/runs)
	if rate > alpha+2*math.Sqrt(alpha*(1-alpha)/runs) {
		t.Errorf("mSPRT rejection rate under H0 %.3f exceeds %.2f", rate, alpha)
	}
	// Power: a 0.2-SD difference is found within 50 looks of 100 events.
	var a, b Moments
	var av AlwaysValidP
	for l := 0; l < looks; l++ {
		for i := 0; i < batch; i++ {
			a.Add(rng.NormFloat64())
			b.Add(rng.NormFloat64() + 0.2)
		}
		av.Update(MSPRTMeans(a, b, 0))
	}
	if av.P() > alpha {
		t.Errorf("mSPRT missed a 0.2-SD effect: p = %v", av.P())
	}
	// Hand check of the formula: θ̂ = 0.3, V = 0.01, τ² = 0.01 gives
	// Λ = √(1/2)·exp(0.01·0.09/(2·0.01·0.02)) = √(1/2)·e^2.25.
	near(t, "MSPRT formula", MSPRT(0.3, 0.01, 0.01), 1/(math.Sqrt(0.5)*math.Exp(2.25)), 1e-15)
	if MSPRT(0.1, 0.01, 0.01) != 1 {
		t.Error("1/Λ > 1 must be capped at 1")
	}
	// Proportions: 30/100 vs 50/100, τ² = 0.01·p̄(1−p̄) by default.
	pb := 0.4
	v := pb * (1 - pb) * 0.02
	near(t, "MSPRTProportions", MSPRTProportions(30, 100, 50, 100, 0), MSPRT(0.2, v, 0.01*pb*(1-pb)), 1e-15)
}

func TestMMDPermutation(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	sample := func(n int, shift float64) [][]float64 {
		v := make([][]float64, n)
		for i := range v {
			v[i] = make([]float64, 8)
			for j := range v[i] {
				v[i][j] = rng.NormFloat64()
			}
			v[i][0] += shift
		}
		return v
	}
	x, y, z := sample(100, 0), sample(100, 0), sample(100, 1.5)
	same := MMDTest(x, y, Kernel{Kind: RBF}, 200, 0.05, 7)
	diff := MMDTest(x, z, Kernel{Kind: RBF}, 200, 0.05, 7)
	if same.P < 0.05 {
		t.Errorf("same distribution flagged: %+v", same)
	}
	if diff.P > 0.01 || diff.MMD2 <= diff.Threshold {
		t.Errorf("1.5-SD shift missed: %+v", diff)
	}
	if again := MMDTest(x, z, Kernel{Kind: RBF}, 200, 0.05, 7); again != diff {
		t.Errorf("not deterministic for a fixed seed: %+v vs %+v", again, diff)
	}
	if lin := MMDTest(x, z, Kernel{Kind: Linear}, 200, 0.05, 7); lin.P > 0.01 {
		t.Errorf("linear kernel missed a mean shift: %+v", lin)
	}
}

// TestMMDDecisionAgreesWithMMDTest: the early-stopping test decides as
// the full one on samples that agree and on shifted ones, at every level
// and seed tried; when it runs all shuffles it returns the full result.
func TestMMDDecisionAgreesWithMMDTest(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	sample := func(n int, shift float64) [][]float64 {
		v := make([][]float64, n)
		for i := range v {
			v[i] = make([]float64, 6)
			for j := range v[i] {
				v[i][j] = rng.NormFloat64()
			}
			v[i][0] += shift
		}
		return v
	}
	stopped, full := 0, 0
	for trial := 0; trial < 40; trial++ {
		shift := []float64{0, 0, 0.3, 0.6, 1.5}[trial%5]
		x, y := sample(40, 0), sample(40, shift)
		for _, alpha := range []float64{0.001, 0.01, 0.05, 0.2} {
			seed := uint64(trial)
			a := MMDTest(x, y, Kernel{Kind: RBF}, 200, alpha, seed)
			d := MMDDecision(x, y, Kernel{Kind: RBF}, 200, alpha, seed)
			if (a.P < alpha) != (d.P < alpha) {
				t.Fatalf("trial %d alpha %v: full P %v, early P %v (after %d shuffles)", trial, alpha, a.P, d.P, d.Permutations)
			}
			if d.MMD2 != a.MMD2 || d.Bandwidth != a.Bandwidth {
				t.Fatalf("statistic differs: %+v vs %+v", d, a)
			}
			if d.Permutations < 200 {
				stopped++
				if d.P < alpha || !math.IsNaN(d.Threshold) {
					t.Fatalf("stopped early yet %+v", d)
				}
			} else {
				full++
				if d != a {
					t.Fatalf("a test run to the end differs: %+v vs %+v", d, a)
				}
			}
		}
	}
	if stopped == 0 || full == 0 {
		t.Fatalf("%d early stops and %d full runs: the trials do not cover both", stopped, full)
	}
}

// TestKS2SampleAsymptotic checks the switch to the limiting distribution
// above KSExactMaxProduct (4000·3000 = 1.2e7): P must be KolmogorovSF of the
// scaled statistic, and close to the exact p-value at a size just below.
func TestKS2SampleAsymptotic(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	draw := func(n int, shift float64) []float64 {
		s := make([]float64, n)
		for i := range s {
			s[i] = rng.NormFloat64() + shift
		}
		return s
	}
	x, y := draw(4000, 0), draw(3000, 0.03)
	r := KS2Sample(x, y)
	if r.Exact {
		t.Fatal("n1·n2 above KSExactMaxProduct should use the asymptotic p-value")
	}
	en := 4000.0 * 3000 / 7000
	near(t, "asymptotic P", r.P, KolmogorovSF(math.Sqrt(en)*r.D), 1e-15)
	// Just below the bound the exact and limiting p-values agree to about
	// 1e-2 (the limit slightly overstates P at finite n).
	e := KS2Sample(x[:3300], y)
	if !e.Exact {
		t.Fatal("3300·3000 should be exact")
	}
	en = 3300.0 * 3000 / 6300
	near(t, "exact vs limit", e.P, KolmogorovSF(math.Sqrt(en)*e.D), 1e-2)
}
