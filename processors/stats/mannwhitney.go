package stats

import (
	"cmp"
	"math"
	"slices"
)

// MannWhitneyResult is the outcome of the Mann–Whitney U test.
type MannWhitneyResult struct {
	U1 float64 // U statistic of the first sample
	Z  float64 // continuity-corrected normal deviate of max(U1, U2)
	P  float64 // two-sided p-value
}

// MannWhitneyU is the two-sided Mann–Whitney U (Wilcoxon rank-sum) test of
// samples x and y using the normal approximation with tie and continuity
// correction. With n = n1 + n2, R1 the sum of x's mid-ranks in the pooled
// sample and t_j the sizes of the groups of tied values:
//
//	U1 = R1 − n1(n1+1)/2,       U = max(U1, n1·n2 − U1)
//	σ  = √( n1·n2/12 · ((n+1) − Σ(t_j³ − t_j)/(n(n−1))) )
//	z  = (U − n1·n2/2 − 1/2)/σ
//	p  = min(1, 2·(1 − Φ(z)))
//
// U1 and p agree with scipy.stats.mannwhitneyu(x, y, use_continuity=True,
// alternative="two-sided", method="asymptotic"). NaN values are dropped
// first (SciPy would propagate them). Special cases: an empty sample gives
// all-NaN fields; when every value is tied σ = 0 and Z = 0, P = 1 (the
// samples are indistinguishable; SciPy returns NaN there).
func MannWhitneyU(x, y []float64) MannWhitneyResult {
	nan := math.NaN()
	type obs struct {
		v     float64
		first bool
	}
	all := make([]obs, 0, len(x)+len(y))
	for _, v := range x {
		if !math.IsNaN(v) {
			all = append(all, obs{v, true})
		}
	}
	n1 := float64(len(all))
	for _, v := range y {
		if !math.IsNaN(v) {
			all = append(all, obs{v, false})
		}
	}
	n := float64(len(all))
	n2 := n - n1
	if n1 == 0 || n2 == 0 {
		return MannWhitneyResult{nan, nan, nan}
	}
	slices.SortFunc(all, func(a, b obs) int { return cmp.Compare(a.v, b.v) })
	var r1, ties float64
	for i := 0; i < len(all); {
		j := i + 1
		for j < len(all) && all[j].v == all[i].v {
			j++
		}
		// Positions i..j−1 share the mid-rank (i+1 + j)/2.
		rank := float64(i+1+j) / 2
		t := float64(j - i)
		ties += t*t*t - t
		for k := i; k < j; k++ {
			if all[k].first {
				r1 += rank
			}
		}
		i = j
	}
	u1 := r1 - n1*(n1+1)/2
	u := math.Max(u1, n1*n2-u1)
	sigma := math.Sqrt(n1 * n2 / 12 * ((n + 1) - ties/(n*(n-1))))
	if !(sigma > 0) {
		return MannWhitneyResult{U1: u1, Z: 0, P: 1}
	}
	z := (u - n1*n2/2 - 0.5) / sigma
	return MannWhitneyResult{U1: u1, Z: z, P: math.Min(1, math.Erfc(z/math.Sqrt2))}
}
