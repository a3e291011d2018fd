package stats

import (
	"cmp"
	"math"
	"slices"

	"gonum.org/v1/gonum/stat/distuv"
)

// PSIEpsilon is the floor applied to bin proportions by PSI so that an empty
// bin contributes a large but finite term instead of ±Inf.
const PSIEpsilon = 1e-4

// PSI is the population stability index of cur against ref over the same
// fixed bins, given as counts:
//
//	r_i = max(ref_i/Σref, ε), c_i = max(cur_i/Σcur, ε), ε = PSIEpsilon
//	PSI = Σ_i (c_i − r_i)·ln(c_i/r_i)
//
// Binning: the bins are the caller's fixed bins (for a Histogram, its k inner
// bins plus underflow and overflow, see PSIHistogram); PSI depends on them,
// and the conventional thresholds (< 0.1 stable, 0.1–0.2 moderate, > 0.2
// shifted) assume about ten bins of equal reference mass (QuantileEdges).
// The floored proportions are not renormalised. Special cases: different
// lengths, an empty slice, a negative or NaN count, or a zero total give NaN.
func PSI(ref, cur []float64) float64 {
	sr, ok1 := sumCounts(ref)
	sc, ok2 := sumCounts(cur)
	if !ok1 || !ok2 || len(ref) != len(cur) {
		return math.NaN()
	}
	var psi float64
	for i := range ref {
		r := math.Max(ref[i]/sr, PSIEpsilon)
		c := math.Max(cur[i]/sc, PSIEpsilon)
		psi += (c - r) * math.Log(c/r)
	}
	return psi
}

// PSIHistogram is PSI over all k+2 bins of two histograms with equal edges;
// NaN when the edges differ or either is empty.
func PSIHistogram(ref, cur *Histogram) float64 {
	if !compatible(ref, cur) {
		return math.NaN()
	}
	return PSI(ref.Counts, cur.Counts)
}

// JSDistance is the Jensen–Shannon distance in base 2 between two discrete
// distributions given as non-negative weights (each is normalised to sum 1):
//
//	m  = (p + q)/2
//	JS = √( (KL(p‖m) + KL(q‖m)) / (2·ln 2) ),   KL(p‖m) = Σ p_i ln(p_i/m_i)
//
// with 0·ln(0/x) = 0. It lies in [0, 1] and agrees with
// scipy.spatial.distance.jensenshannon(p, q, base=2). Special cases:
// different lengths, an empty slice, a negative or NaN weight, or a zero
// total give NaN.
func JSDistance(p, q []float64) float64 {
	sp, ok1 := sumCounts(p)
	sq, ok2 := sumCounts(q)
	if !ok1 || !ok2 || len(p) != len(q) {
		return math.NaN()
	}
	var js float64
	for i := range p {
		a, b := p[i]/sp, q[i]/sq
		// ln(a/m) with m = (a+b)/2, written as ln 2 + ln(a/(a+b)): halving
		// the smallest subnormal a+b gives m = 0 and an infinite term
		// (found by FuzzDriftStatistics), while a/(a+b) stays in (0, 1].
		s := a + b
		if a > 0 {
			js += a * (math.Ln2 + math.Log(a/s))
		}
		if b > 0 {
			js += b * (math.Ln2 + math.Log(b/s))
		}
	}
	return math.Sqrt(math.Max(0, js/(2*math.Ln2)))
}

// JSDistanceHistogram is JSDistance over all k+2 bins of two histograms with
// equal edges; NaN when the edges differ or either is empty.
func JSDistanceHistogram(ref, cur *Histogram) float64 {
	if !compatible(ref, cur) {
		return math.NaN()
	}
	return JSDistance(ref.Counts, cur.Counts)
}

// ChiSquareResult is a chi-square test of homogeneity.
type ChiSquareResult struct {
	Stat float64
	DoF  float64
	P    float64
}

// ChiSquareHomogeneity tests whether two rows of category counts (a 2×k
// contingency table, e.g. reference and current window) come from the same
// distribution, without continuity correction:
//
//	E_ij = row_i·col_j/N,   X² = Σ_ij (O_ij − E_ij)²/E_ij
//	dof  = k' − 1,          p = 1 − F_{χ²(dof)}(X²)
//
// where k' is the number of columns with a non-zero total. It agrees with
// scipy.stats.chi2_contingency([a, b], correction=False) when every column
// total is positive; SciPy rejects tables with an empty column, while this
// function drops such columns (they carry no information). Special cases:
// different lengths, a negative or NaN count, an empty row, or k' < 2 give
// all-NaN fields.
func ChiSquareHomogeneity(a, b []float64) ChiSquareResult {
	nan := math.NaN()
	bad := ChiSquareResult{nan, nan, nan}
	sa, ok1 := sumCounts(a)
	sb, ok2 := sumCounts(b)
	if !ok1 || !ok2 || len(a) != len(b) {
		return bad
	}
	n := sa + sb
	var stat float64
	k := 0
	for j := range a {
		col := a[j] + b[j]
		if col == 0 {
			continue
		}
		k++
		ea, eb := sa*col/n, sb*col/n
		stat += (a[j]-ea)*(a[j]-ea)/ea + (b[j]-eb)*(b[j]-eb)/eb
	}
	if k < 2 {
		return bad
	}
	dof := float64(k - 1)
	return ChiSquareResult{Stat: stat, DoF: dof, P: distuv.ChiSquared{K: dof}.Survival(stat)}
}

// WassersteinSamples is the first Wasserstein (earth mover's) distance
// between the empirical distributions of two samples,
//
//	W1 = ∫ |F_u(t) − F_v(t)| dt,
//
// agreeing with scipy.stats.wasserstein_distance(u, v). NaN values are
// dropped; an empty sample gives NaN. u and v are not modified.
func WassersteinSamples(u, v []float64) float64 {
	return WassersteinWeighted(u, nil, v, nil)
}

// WassersteinWeighted is W1 between two weighted discrete distributions
// (values with non-negative weights; nil weights mean all ones), agreeing
// with scipy.stats.wasserstein_distance(uValues, vValues, uWeights,
// vWeights). Values that are NaN, and their weights, are dropped. Special
// cases: mismatched value/weight lengths, negative or NaN weights, or a zero
// total weight on either side give NaN.
func WassersteinWeighted(uValues, uWeights, vValues, vWeights []float64) float64 {
	type pt struct{ x, wu, wv float64 }
	if (uWeights != nil && len(uWeights) != len(uValues)) || (vWeights != nil && len(vWeights) != len(vValues)) {
		return math.NaN()
	}
	pts := make([]pt, 0, len(uValues)+len(vValues))
	var su, sv float64
	for i, x := range uValues {
		w := 1.0
		if uWeights != nil {
			w = uWeights[i]
		}
		if !(w >= 0) || math.IsInf(w, 0) {
			return math.NaN()
		}
		if !math.IsNaN(x) {
			pts = append(pts, pt{x, w, 0})
			su += w
		}
	}
	for i, x := range vValues {
		w := 1.0
		if vWeights != nil {
			w = vWeights[i]
		}
		if !(w >= 0) || math.IsInf(w, 0) {
			return math.NaN()
		}
		if !math.IsNaN(x) {
			pts = append(pts, pt{x, 0, w})
			sv += w
		}
	}
	if !(su > 0) || !(sv > 0) {
		return math.NaN()
	}
	slices.SortFunc(pts, func(a, b pt) int { return cmp.Compare(a.x, b.x) })
	var fu, fv, w float64
	for i := 0; i < len(pts)-1; i++ {
		fu += pts[i].wu / su
		fv += pts[i].wv / sv
		w += math.Abs(fu-fv) * (pts[i+1].x - pts[i].x)
	}
	return w
}

// WassersteinHistogram is W1 between two histograms with equal edges, each
// bin's mass placed at its Midpoints value (underflow at e_0, overflow at
// e_k). It equals scipy.stats.wasserstein_distance(mid, mid, ref.Counts,
// cur.Counts) and differs from the distance between the raw samples by at
// most the widest bin width (plus any mass beyond the outer edges). NaN when
// the edges differ or either histogram is empty.
func WassersteinHistogram(ref, cur *Histogram) float64 {
	if !compatible(ref, cur) {
		return math.NaN()
	}
	sr, ok1 := sumCounts(ref.Counts)
	sc, ok2 := sumCounts(cur.Counts)
	if !ok1 || !ok2 {
		return math.NaN()
	}
	// Midpoints are increasing, so integrate the CDF difference directly.
	var fr, fc, prev, w float64
	k := len(ref.Edges) - 1
	for i := 0; i <= k+1; i++ {
		x := binPoint(ref.Edges, i)
		if i > 0 {
			w += math.Abs(fr-fc) * (x - prev)
		}
		fr += ref.Counts[i] / sr
		fc += cur.Counts[i] / sc
		prev = x
	}
	return w
}

// binPoint is Histogram.Midpoints()[i] without allocating.
func binPoint(edges []float64, i int) float64 {
	k := len(edges) - 1
	switch {
	case i == 0:
		return edges[0]
	case i > k:
		return edges[k]
	default:
		return 0.5 * (edges[i-1] + edges[i])
	}
}

// sumCounts returns the sum of non-negative finite counts, ok=false for an
// empty slice, a negative, NaN or infinite count, or a zero total.
func sumCounts(c []float64) (float64, bool) {
	var s float64
	for _, v := range c {
		if !(v >= 0) || math.IsInf(v, 0) {
			return 0, false
		}
		s += v
	}
	return s, len(c) > 0 && s > 0
}
