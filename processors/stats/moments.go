package stats

import "math"

// Moments is a mergeable summary of a numeric feature: the (weighted) count
// N, the mean and M2, the sum of squared deviations from the mean. It is
// what a window partial carries for Welch's t-test and the mSPRT.
//
// Updates use Welford's (weighted: West's 1979) recurrence; merges use the
// parallel update of Chan, Golub and LeVeque (1979):
//
//	n    = n_a + n_b
//	δ    = mean_b − mean_a
//	mean = mean_a + δ·n_b/n
//	M2   = M2_a + M2_b + δ²·n_a·n_b/n
//
// which is exact up to rounding and independent of merge order.
type Moments struct {
	N    float64
	Mean float64
	M2   float64
}

// Add folds in one observation. NaN and ±Inf are ignored so a single bad
// value does not poison a window.
func (m *Moments) Add(x float64) { m.AddWeighted(x, 1) }

// AddWeighted folds in x with weight w > 0 (ignored otherwise).
func (m *Moments) AddWeighted(x, w float64) {
	if math.IsNaN(x) || math.IsInf(x, 0) || !(w > 0) || math.IsInf(w, 0) {
		return
	}
	m.N += w
	d := x - m.Mean
	m.Mean += d * w / m.N
	m.M2 += w * d * (x - m.Mean)
}

// Merge folds o into m (Chan et al. parallel update).
func (m *Moments) Merge(o Moments) {
	if !(o.N > 0) {
		return
	}
	if !(m.N > 0) {
		*m = o
		return
	}
	n := m.N + o.N
	d := o.Mean - m.Mean
	m.Mean += d * o.N / n
	m.M2 += o.M2 + d*d*m.N*o.N/n
	m.N = n
}

// Variance is the unbiased sample variance M2/(N−1); NaN when N < 2.
func (m Moments) Variance() float64 {
	if !(m.N >= 2) {
		return math.NaN()
	}
	return m.M2 / (m.N - 1)
}

// StdDev is the square root of Variance.
func (m Moments) StdDev() float64 { return math.Sqrt(m.Variance()) }
