package stats

import (
	"math"

	"gonum.org/v1/gonum/mathext"
	"gonum.org/v1/gonum/stat/distuv"
)

// TTestResult is the outcome of Welch's t-test.
type TTestResult struct {
	Diff   float64 // mean1 − mean2
	T      float64
	DoF    float64 // Welch–Satterthwaite degrees of freedom
	P      float64 // two-sided p-value
	Lo, Hi float64 // confidence interval for Diff
}

// WelchTTest is Welch's unequal-variance t-test from summary statistics, so
// it runs on merged Moments rather than samples. var1 and var2 are unbiased
// sample variances (ddof = 1):
//
//	s²  = var1/n1 + var2/n2
//	t   = (mean1 − mean2)/s
//	ν   = s⁴ / ((var1/n1)²/(n1−1) + (var2/n2)²/(n2−1))
//	p   = 2·(1 − T_ν(|t|)) = I_{ν/(ν+t²)}(ν/2, 1/2)
//	CI  = (mean1 − mean2) ± t_{ν, 1−(1−c)/2}·s
//
// t, ν and p agree with scipy.stats.ttest_ind_from_stats(mean1, sqrt(var1),
// n1, mean2, sqrt(var2), n2, equal_var=False). Special cases: n1 or n2 < 2
// or a negative/NaN variance gives all-NaN fields; s = 0 (both samples
// constant) leaves T, DoF, P and the interval NaN because the test is
// undefined; a confidence outside (0,1) leaves only the interval NaN.
func WelchTTest(n1, mean1, var1, n2, mean2, var2, confidence float64) TTestResult {
	nan := math.NaN()
	r := TTestResult{nan, nan, nan, nan, nan, nan}
	if !(n1 >= 2 && n2 >= 2 && var1 >= 0 && var2 >= 0) || math.IsNaN(mean1) || math.IsNaN(mean2) {
		return r
	}
	r.Diff = mean1 - mean2
	a, b := var1/n1, var2/n2
	s2 := a + b
	if !(s2 > 0) {
		return r
	}
	s := math.Sqrt(s2)
	r.T = r.Diff / s
	r.DoF = s2 * s2 / (a*a/(n1-1) + b*b/(n2-1))
	r.P = studentsTTwoSided(r.T, r.DoF)
	if confidence > 0 && confidence < 1 {
		q := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: r.DoF}.Quantile(1 - (1-confidence)/2)
		r.Lo, r.Hi = r.Diff-q*s, r.Diff+q*s
	}
	return r
}

// WelchTTestMoments is WelchTTest on two merged Moments.
func WelchTTestMoments(a, b Moments, confidence float64) TTestResult {
	return WelchTTest(a.N, a.Mean, a.Variance(), b.N, b.Mean, b.Variance(), confidence)
}

// studentsTTwoSided returns P(|T_ν| >= |t|) through the regularized
// incomplete beta function, which keeps precision for tiny p-values.
func studentsTTwoSided(t, nu float64) float64 {
	if math.IsNaN(t) || !(nu > 0) {
		return math.NaN()
	}
	if math.IsInf(t, 0) {
		return 0
	}
	return mathext.RegIncBeta(nu/2, 0.5, nu/(nu+t*t))
}
