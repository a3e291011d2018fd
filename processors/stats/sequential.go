package stats

import "math"

// MSPRTInterval returns the one-look always-valid (1−α) interval for θ
// given an estimate θ̂ with sampling variance V under the normal mixing
// prior N(0, τ²) of MSPRT: the values θ0 whose test H0: θ = θ0 does not
// reject, 1/Λ(θ̂−θ0) > α. Solving Λ = 1/α for θ̂−θ0:
//
//	θ̂ ± h,   h = √( V·(V+τ²)/τ² · ln((V+τ²)/(V·α²)) )
//
// (Johari, Pekelis and Walsh, "Always valid inference", 2017). In the
// scale of a sum S of n observations of variance σ² (V_n = n·σ²,
// ρ = σ⁴/τ²) this is Robbins' (1970) two-sided normal-mixture boundary
// |S| ≤ √((V_n+ρ)·ln((V_n+ρ)/(ρ·α²))), as in Howard, Ramdas, McAuliffe
// and Sekhon, "Time-uniform, nonparametric, nonasymptotic confidence
// sequences", Ann. Statist. 49 (2021). Special cases: V <= 0, τ² <= 0, α
// outside (0, 1) or NaN input gives NaN bounds.
func MSPRTInterval(diff, variance, tau2, alpha float64) (lo, hi float64) {
	if !(variance > 0) || !(tau2 > 0) || !(alpha > 0 && alpha < 1) || math.IsNaN(diff) || math.IsInf(variance, 0) || math.IsInf(tau2, 0) {
		return math.NaN(), math.NaN()
	}
	h := math.Sqrt(variance * (variance + tau2) / tau2 * (math.Log((variance+tau2)/variance) - 2*math.Log(alpha)))
	return diff - h, diff + h
}

// Sequential carries one mSPRT across looks at growing (cumulative) data:
// the always-valid p-value p_n = min over looks m <= n of 1/Λ_m (MSPRT),
// and the confidence sequence CS_n, the intersection of the one-look
// intervals I_m (MSPRTInterval) over m <= n. Under the model, P(p_n <= α
// for some n) <= α and P(θ ∉ CS_n for some n) <= α however often one
// looks and whenever one stops (Ville's inequality on the mixture
// likelihood ratio, a nonnegative martingale under H0), and 0 ∉ CS_n
// exactly when p_n <= α.
//
// Should the intersection become empty (an event of probability at most
// α under the model, which signals a misfit such as a changing effect),
// CS_n is the latest interval alone, so it stays an interval around the
// current estimate.
//
// The zero value has had no look (P() = 1, Interval() = (−Inf, +Inf)).
// The fields are exported so that the state can be stored: a Sequential
// restored from its fields continues the same test, while starting from
// the zero value again starts a new one.
type Sequential struct {
	Looks  int     // looks folded in
	P      float64 // running minimum of 1/Λ; meaningful when Looks > 0
	Lo, Hi float64 // running intersection; meaningful when Looks > 0
}

// Update folds in one look: the estimate θ̂ on all data so far, its
// variance V and the mixing variance τ², at level α for the interval. A
// look whose statistic is undefined (see MSPRT and MSPRTInterval) changes
// nothing and returns false.
func (s *Sequential) Update(diff, variance, tau2, alpha float64) bool {
	p := MSPRT(diff, variance, tau2)
	lo, hi := MSPRTInterval(diff, variance, tau2, alpha)
	if math.IsNaN(p) || math.IsNaN(lo) || math.IsNaN(hi) {
		return false
	}
	if s.Looks == 0 {
		s.P, s.Lo, s.Hi = p, lo, hi
		s.Looks = 1
		return true
	}
	s.Looks++
	s.P = math.Min(s.P, p)
	nlo, nhi := math.Max(s.Lo, lo), math.Min(s.Hi, hi)
	if nlo > nhi {
		nlo, nhi = lo, hi
	}
	s.Lo, s.Hi = nlo, nhi
	return true
}

// PValue is the always-valid p-value so far (1 before any look).
func (s *Sequential) PValue() float64 {
	if s.Looks == 0 {
		return 1
	}
	return s.P
}

// Interval is the confidence sequence so far ((−Inf, +Inf) before any
// look).
func (s *Sequential) Interval() (lo, hi float64) {
	if s.Looks == 0 {
		return math.Inf(-1), math.Inf(1)
	}
	return s.Lo, s.Hi
}
