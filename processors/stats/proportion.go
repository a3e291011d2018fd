package stats

import (
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// zQuantile returns the two-sided critical value z_{1−(1−c)/2} for a
// confidence level c in (0,1), NaN otherwise.
func zQuantile(confidence float64) float64 {
	if !(confidence > 0 && confidence < 1) {
		return math.NaN()
	}
	return distuv.UnitNormal.Quantile(1 - (1-confidence)/2)
}

// normalTwoSided returns the two-sided normal p-value 2·(1−Φ(|z|)) =
// erfc(|z|/√2), accurate far into the tail.
func normalTwoSided(z float64) float64 {
	if math.IsNaN(z) {
		return math.NaN()
	}
	return math.Erfc(math.Abs(z) / math.Sqrt2)
}

// Wilson returns the Wilson score interval for a proportion with x successes
// in n trials at the given confidence level (e.g. 0.95):
//
//	p̂ = x/n, z = Φ⁻¹(1 − (1−confidence)/2)
//	centre    = (p̂ + z²/(2n)) / (1 + z²/n)
//	halfwidth = z/(1 + z²/n) · √(p̂(1−p̂)/n + z²/(4n²))
//
// It agrees with statsmodels' proportion_confint(x, n, alpha, method="wilson").
// Unlike the Wald interval it stays inside [0,1] and is not degenerate at
// x = 0 or x = n. Special cases: n <= 0, x < 0, x > n, NaN input or a
// confidence outside (0,1) give (NaN, NaN). x and n may be non-integer
// (weighted counts).
func Wilson(x, n, confidence float64) (lo, hi float64) {
	z := zQuantile(confidence)
	if !(n > 0) || !(x >= 0) || x > n || math.IsNaN(z) || math.IsInf(n, 0) {
		return math.NaN(), math.NaN()
	}
	p := x / n
	z2 := z * z
	d := 1 + z2/n
	c := (p + z2/(2*n)) / d
	h := z / d * math.Sqrt(p*(1-p)/n+z2/(4*n*n))
	return math.Max(0, c-h), math.Min(1, c+h)
}

// TwoProportionResult is the comparison of two proportions p1 = x1/n1 and
// p2 = x2/n2.
type TwoProportionResult struct {
	P1, P2 float64
	Diff   float64 // p1 − p2
	Z      float64 // pooled z statistic
	P      float64 // two-sided p-value
	Lo, Hi float64 // Wald (unpooled) interval for Diff
}

// TwoProportionZTest compares two proportions with the pooled two-sample
// z-test and gives an unpooled Wald interval for their difference:
//
//	p̄  = (x1 + x2)/(n1 + n2)
//	z  = (p1 − p2) / √(p̄(1−p̄)(1/n1 + 1/n2))
//	p  = 2·(1 − Φ(|z|))
//	CI = (p1 − p2) ± z_{c}·√(p1(1−p1)/n1 + p2(1−p2)/n2)
//
// The test agrees with statsmodels' proportions_ztest([x1,x2],[n1,n2]) (whose
// default is the pooled variance). Special cases: n1 or n2 <= 0 or a count
// outside [0, n] gives all-NaN fields; when p̄ is 0 or 1 the two groups are
// identical and Z = 0, P = 1.
func TwoProportionZTest(x1, n1, x2, n2, confidence float64) TwoProportionResult {
	nan := math.NaN()
	r := TwoProportionResult{nan, nan, nan, nan, nan, nan, nan}
	if !(n1 > 0 && n2 > 0 && x1 >= 0 && x2 >= 0 && x1 <= n1 && x2 <= n2) {
		return r
	}
	r.P1, r.P2 = x1/n1, x2/n2
	r.Diff = r.P1 - r.P2
	pb := (x1 + x2) / (n1 + n2)
	se := math.Sqrt(pb * (1 - pb) * (1/n1 + 1/n2))
	if se > 0 {
		r.Z = r.Diff / se
		r.P = normalTwoSided(r.Z)
	} else {
		r.Z, r.P = 0, 1
	}
	if z := zQuantile(confidence); !math.IsNaN(z) {
		h := z * math.Sqrt(r.P1*(1-r.P1)/n1+r.P2*(1-r.P2)/n2)
		r.Lo, r.Hi = r.Diff-h, r.Diff+h
	}
	return r
}
