package stats

import (
	"math"
	"sort"
)

// KSExactMaxProduct bounds n1·n2 for the exact two-sample KS p-value. The
// exact computation takes O(n1·n2) time and O(min(n1, n2)) memory (about 10 ms at
// 2,000 × 2,000); beyond the bound KS2Sample uses the asymptotic p-value.
const KSExactMaxProduct = 1e7

// KSResult is a two-sample Kolmogorov–Smirnov test.
type KSResult struct {
	D     float64 // sup_t |F1(t) − F2(t)|
	P     float64 // two-sided p-value
	Exact bool    // whether P is the exact (permutation) p-value
}

// KS2Sample is the two-sided two-sample Kolmogorov–Smirnov test of samples x
// and y (NaN values dropped; x and y are not modified):
//
//	D = sup_t |F_x(t) − F_y(t)|
//
// P is the exact null probability P(D' >= D) over all C(n1+n2, n1) equally
// likely orderings of the pooled sample (no ties assumed, as in SciPy) when
// n1·n2 <= KSExactMaxProduct, computed by a lattice-path recursion that
// accumulates the probability of leaving the band |i/n1 − j/n2| < D; it
// agrees with scipy.stats.ks_2samp(x, y, method="exact"), and so with
// method="auto" whenever max(n1, n2) <= 10000 and n1·n2 <= KSExactMaxProduct.
// Otherwise P = KolmogorovSF(√(n1·n2/(n1+n2))·D), the limiting Kolmogorov
// distribution (SciPy's method="asymp" instead uses the finite-n one-sample
// distribution kstwo with n = round(n1·n2/(n1+n2)), which is slightly
// larger for small n). Special cases: an empty sample gives NaN fields.
func KS2Sample(x, y []float64) KSResult {
	nan := math.NaN()
	a, b := sortedFinite(x), sortedFinite(y)
	m, n := len(a), len(b)
	if m == 0 || n == 0 {
		return KSResult{nan, nan, false}
	}
	// Walk both sorted samples; after consuming all values <= t the
	// difference of the CDFs is (i·n − j·m)/(m·n). Keep it in integers so that
	// the exact recursion can compare lattice points without rounding.
	var h int64
	i, j := 0, 0
	for i < m || j < n {
		var t float64
		switch {
		case i == m:
			t = b[j]
		case j == n:
			t = a[i]
		default:
			t = math.Min(a[i], b[j])
		}
		for i < m && a[i] == t {
			i++
		}
		for j < n && b[j] == t {
			j++
		}
		d := int64(i)*int64(n) - int64(j)*int64(m)
		if d < 0 {
			d = -d
		}
		if d > h {
			h = d
		}
	}
	D := float64(h) / (float64(m) * float64(n))
	if h == 0 {
		return KSResult{D: 0, P: 1, Exact: true}
	}
	if float64(m)*float64(n) <= KSExactMaxProduct {
		return KSResult{D: D, P: ksExactOutside(m, n, h), Exact: true}
	}
	en := float64(m) * float64(n) / float64(m+n)
	return KSResult{D: D, P: KolmogorovSF(math.Sqrt(en) * D), Exact: false}
}

// ksExactOutside returns the probability that a uniformly random monotone
// lattice path from (0,0) to (m,n) reaches a point with |i·n − j·m| >= h.
// The path is walked as draws without replacement: from (i,j) it steps to
// (i+1,j) with probability (m−i)/(m+n−i−j). Mass that leaves the band is
// accumulated directly, so small p-values keep their relative precision.
func ksExactOutside(m, n int, h int64) float64 {
	if n > m {
		m, n = n, m // the band is symmetric; keep the row short
	}
	row := make([]float64, n+1)
	var out float64
	M, N := int64(m), int64(n)
	outside := func(i, j int) bool {
		d := int64(i)*N - int64(j)*M
		return d >= h || -d >= h
	}
	// Row i = 0.
	row[0] = 1
	for j := 1; j <= n; j++ {
		row[j] = row[j-1] * float64(n-j+1) / float64(m+n-j+1)
		if outside(0, j) {
			out += row[j]
			row[j] = 0
		}
	}
	for i := 1; i <= m; i++ {
		// From (i−1, j) step right in x: probability (m−i+1)/(m+n−i+1−j).
		row[0] = row[0] * float64(m-i+1) / float64(m+n-i+1)
		if outside(i, 0) {
			out += row[0]
			row[0] = 0
		}
		for j := 1; j <= n; j++ {
			v := row[j]*float64(m-i+1)/float64(m+n-i+1-j) +
				row[j-1]*float64(n-j+1)/float64(m+n-i-j+1)
			if outside(i, j) {
				out += v
				v = 0
			}
			row[j] = v
		}
	}
	return math.Min(1, out)
}

// KSHistogram is the two-sample Kolmogorov–Smirnov test on two histograms
// with equal edges, for mergeable window data:
//
//	D  = max_j |F_ref(e_j) − F_cur(e_j)|   over the edges (Histogram.CDF)
//	en = n_ref·n_cur/(n_ref + n_cur)
//	P  = KolmogorovSF(√en·D)
//
// D is the sample statistic restricted to the edges, so D <= the statistic
// of the raw samples and the test is conservative; finer bins recover it.
// P equals scipy.special.kolmogorov(sqrt(en)*D) (scipy.stats.kstwobign.sf).
// The totals are used as sample sizes, so weighted counts (sampling) should
// be unweighted before testing. Special cases: different edges or an empty
// histogram give NaN fields.
func KSHistogram(ref, cur *Histogram) KSResult {
	nan := math.NaN()
	if !compatible(ref, cur) {
		return KSResult{nan, nan, false}
	}
	sr, ok1 := sumCounts(ref.Counts)
	sc, ok2 := sumCounts(cur.Counts)
	if !ok1 || !ok2 {
		return KSResult{nan, nan, false}
	}
	var fr, fc, d float64
	for j := 0; j < len(ref.Edges); j++ {
		fr += ref.Counts[j]
		fc += cur.Counts[j]
		d = math.Max(d, math.Abs(fr/sr-fc/sc))
	}
	en := sr * sc / (sr + sc)
	return KSResult{D: d, P: KolmogorovSF(math.Sqrt(en) * d), Exact: false}
}

// KolmogorovSF is the survival function of the Kolmogorov distribution, the
// limit of √n·D_n:
//
//	Q(x) = 2·Σ_{k>=1} (−1)^{k−1}·exp(−2k²x²)                 (x >= 1)
//	Q(x) = 1 − (√(2π)/x)·Σ_{k>=1} exp(−(2k−1)²π²/(8x²))      (x < 1)
//
// the second (Jacobi theta) form converging fast where the first does not.
// It agrees with scipy.special.kolmogorov. Q(x) = 1 for x <= 0; NaN for NaN.
func KolmogorovSF(x float64) float64 {
	switch {
	case math.IsNaN(x):
		return math.NaN()
	case x <= 0:
		return 1
	case math.IsInf(x, 1):
		return 0
	case x < 1:
		if x < 0.05 {
			return 1 // the CDF is below 1e-200 here
		}
		c := math.Pi * math.Pi / (8 * x * x)
		var s float64
		for k := 1; k <= 20; k++ {
			t := math.Exp(-float64((2*k-1)*(2*k-1)) * c)
			s += t
			if t < 1e-17*s {
				break
			}
		}
		return 1 - math.Sqrt(2*math.Pi)/x*s
	default:
		var s float64
		sign := 1.0
		for k := 1; k <= 100; k++ {
			t := math.Exp(-2 * float64(k*k) * x * x)
			s += sign * t
			if t < 1e-17*math.Abs(s) {
				break
			}
			sign = -sign
		}
		return math.Max(0, math.Min(1, 2*s))
	}
}

func sortedFinite(x []float64) []float64 {
	s := make([]float64, 0, len(x))
	for _, v := range x {
		if !math.IsNaN(v) {
			s = append(s, v)
		}
	}
	sort.Float64s(s)
	return s
}
