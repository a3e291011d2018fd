// Package stats is the statistics library behind Sightline's windowed signals:
// drift of numeric, categorical and embedding features against a baseline,
// outcome disparity (bias) across the groups of a segment attribute, rates
// with confidence intervals, and A/B comparisons of variants.
//
// The package is written in the style of gonum/stat: plain functions over
// slices (or over the two mergeable summaries below), each documenting its
// formula, its special cases and which reference implementation it agrees with.
// Tests pin expected values to SciPy 1.10.1 and statsmodels 0.13.5 calls
// (Debian 12 packages) or, where no library function exists (PSI, MMD²), to
// the definition evaluated with NumPy; testdata/scipy_reference.py holds the
// script that produced them.
//
// Stream processors do not keep raw samples, so most tests exist in two forms:
// one over samples (to match SciPy) and one over the mergeable summaries the
// score stage emits as window partials:
//
//   - Histogram: fixed, configurable bin edges plus underflow and overflow bins;
//     partials with equal edges merge by adding counts.
//   - Moments: count, mean and sum of squared deviations (M2), merged with the
//     parallel update of Chan, Golub and LeVeque (1979).
//
// Distributions (normal, Student's t, chi-square) come from
// gonum.org/v1/gonum/stat/distuv and gonum's mathext.
//
// What the package must never do:
//
//   - panic on empty, short, mismatched or non-finite input. Functions return
//     NaN (or a result whose fields are NaN, or ok=false where documented)
//     instead, so one bad window never takes down the aggregate stage;
//   - allocate on the per-event path: Histogram.Add and Moments.Add are
//     allocation-free;
//   - use global randomness: permutation tests take an explicit seed, so the
//     same inputs always give the same answer;
//   - decide anything on its own. Thresholds and decisions live in the
//     subpackage decide, which documents its defaults.
package stats

import "math"

// FiniteOrNil is a pointer to f, or nil when f is NaN or infinite: how
// statistics that use NaN for "none" become SQL NULL or JSON null.
func FiniteOrNil(f float64) *float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	return &f
}
