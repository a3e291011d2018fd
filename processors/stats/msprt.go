package stats

import "math"

// DefaultMixingSD is the standard deviation of the normal mixing prior of the
// mSPRT, in units of the per-observation standard deviation: the prior
// θ ~ N(0, τ²) uses τ² = (DefaultMixingSD·σ̄)², σ̄² = (σ_A² + σ_B²)/2. The
// test has most power for standardized effects of about this size; 0.1 (a
// tenth of a standard deviation, or 4 percentage points on a 20% rate) is
// the range A/B tests of prompt and model variants care about.
const DefaultMixingSD = 0.1

// MSPRT returns the mixture sequential probability ratio test's one-look
// p-value 1/Λ (capped at 1) for H0: θ = 0 given an estimate θ̂ of a
// difference with sampling variance V, under a normal mixing prior
// θ ~ N(0, τ²) (Johari, Pekelis and Walsh, "Always valid inference", 2017):
//
//	Λ = √(V/(V+τ²)) · exp( τ²·θ̂² / (2·V·(V+τ²)) )
//
// The always-valid p-value after look n is the running minimum
// p_n = min(p_{n−1}, 1/Λ_n) over looks at growing (cumulative) data; keep it
// with AlwaysValidP. Under H0, P(p_n <= α for any n) <= α however often one
// looks. Special cases: V <= 0, τ² <= 0 or NaN input gives NaN.
func MSPRT(diff, variance, tau2 float64) float64 {
	if !(variance > 0) || !(tau2 > 0) || math.IsNaN(diff) || math.IsInf(variance, 0) {
		return math.NaN()
	}
	logL := 0.5*math.Log(variance/(variance+tau2)) + tau2*diff*diff/(2*variance*(variance+tau2))
	return math.Min(1, math.Exp(-logL))
}

// MSPRTMeans is MSPRT for the difference of means b.Mean − a.Mean of two
// cumulative Moments, with V = σ_A²/n_A + σ_B²/n_B from the sample
// variances. tau2 <= 0 selects the default (DefaultMixingSD·σ̄)². Either
// summary with N < 2, or zero variance in both, gives NaN.
func MSPRTMeans(a, b Moments, tau2 float64) float64 {
	va, vb := a.Variance(), b.Variance()
	if math.IsNaN(va) || math.IsNaN(vb) {
		return math.NaN()
	}
	if tau2 <= 0 {
		tau2 = DefaultMixingSD * DefaultMixingSD * (va + vb) / 2
	}
	return MSPRT(b.Mean-a.Mean, va/a.N+vb/b.N, tau2)
}

// MSPRTProportions is MSPRT for the difference of rates x2/n2 − x1/n1 with
// V = p̄(1−p̄)(1/n1 + 1/n2), p̄ the pooled rate (the variance under H0).
// tau2 <= 0 selects the default (DefaultMixingSD)²·p̄(1−p̄). Invalid counts
// or p̄ ∈ {0, 1} give NaN.
func MSPRTProportions(x1, n1, x2, n2, tau2 float64) float64 {
	if !(n1 > 0 && n2 > 0 && x1 >= 0 && x2 >= 0 && x1 <= n1 && x2 <= n2) {
		return math.NaN()
	}
	pb := (x1 + x2) / (n1 + n2)
	v := pb * (1 - pb)
	if tau2 <= 0 {
		tau2 = DefaultMixingSD * DefaultMixingSD * v
	}
	return MSPRT(x2/n2-x1/n1, v*(1/n1+1/n2), tau2)
}

// AlwaysValidP carries the running minimum of mSPRT p-values across looks.
// The zero value is ready to use (p = 1). It must be persisted with the A/B
// comparison's state; restarting it restarts the sequential test.
type AlwaysValidP struct {
	p   float64
	set bool
}

// Update folds in the p-value of a new look (NaN is ignored) and returns the
// always-valid p-value so far.
func (a *AlwaysValidP) Update(p float64) float64 {
	if !a.set {
		a.p, a.set = 1, true
	}
	if p < a.p {
		a.p = p
	}
	return a.p
}

// P returns the always-valid p-value so far (1 before any look).
func (a *AlwaysValidP) P() float64 {
	if !a.set {
		return 1
	}
	return a.p
}
