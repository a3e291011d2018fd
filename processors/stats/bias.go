package stats

import (
	"math"
	"sort"
)

// HolmBonferroni returns Holm's step-down adjusted p-values, which control
// the family-wise error rate over len(p) comparisons: with p sorted
// ascending, p̃_(i) = max_{j<=i} min(1, (m−j+1)·p_(j)), returned in the
// input order. Reject H_i at level α iff p̃_i <= α. NaN p-values are left
// NaN and do not count as comparisons. Agrees with statsmodels'
// multipletests(p, method="holm").
func HolmBonferroni(p []float64) []float64 {
	out, order := adjustPrep(p)
	m := float64(len(order))
	running := 0.0
	for r, i := range order {
		v := math.Min(1, (m-float64(r))*p[i])
		running = math.Max(running, v)
		out[i] = running
	}
	return out
}

// BenjaminiHochberg returns Benjamini–Hochberg adjusted p-values (false
// discovery rate): with p sorted ascending, p̃_(i) = min_{j>=i} min(1,
// m·p_(j)/j). NaN handling as HolmBonferroni. Agrees with statsmodels'
// multipletests(p, method="fdr_bh").
func BenjaminiHochberg(p []float64) []float64 {
	out, order := adjustPrep(p)
	m := float64(len(order))
	running := 1.0
	for r := len(order) - 1; r >= 0; r-- {
		i := order[r]
		running = math.Min(running, math.Min(1, m*p[i]/float64(r+1)))
		out[i] = running
	}
	return out
}

func adjustPrep(p []float64) ([]float64, []int) {
	out := make([]float64, len(p))
	order := make([]int, 0, len(p))
	for i, v := range p {
		out[i] = math.NaN()
		if !math.IsNaN(v) {
			order = append(order, i)
		}
	}
	sort.SliceStable(order, func(a, b int) bool { return p[order[a]] < p[order[b]] })
	return out, order
}

// GroupCount is the outcome tally of one group of a segment attribute
// (e.g. user.locale = "de"): Positives of N events had the outcome (refusal,
// toxicity above threshold, thumbs-down, ...).
type GroupCount struct {
	Group     string
	Positives float64
	N         float64
}

// DefaultMinGroupSize is the smallest group DisparityTest compares when
// DisparityOptions.MinGroupSize is zero: below about 30 events the normal
// approximation of the two-proportion test is unreliable.
const DefaultMinGroupSize = 30

// DisparityOptions configures DisparityTest; the zero value is usable.
type DisparityOptions struct {
	// Reference is the group every other group is compared with. Empty
	// selects the largest sufficient group (ties: the first in input order).
	Reference string
	// MinGroupSize; groups with fewer events are reported as insufficient
	// and not tested. Zero means DefaultMinGroupSize.
	MinGroupSize float64
	// Alpha is the family-wise level for Significant. Zero means 0.05.
	Alpha float64
	// Confidence of each rate's Wilson interval. Zero means 0.95.
	Confidence float64
}

// GroupDisparity is one group's result in DisparityTest.
type GroupDisparity struct {
	Group       string
	N, Rate     float64
	Lo, Hi      float64 // Wilson interval of Rate
	Sufficient  bool    // N >= MinGroupSize; the fields below are NaN otherwise
	Reference   bool    // this is the reference group (not tested)
	RateDiff    float64 // Rate − reference rate
	Ratio       float64 // disparate-impact ratio Rate / reference rate (NaN if the reference rate is 0)
	Z, P        float64 // pooled two-proportion z-test against the reference
	PAdjusted   float64 // Holm–Bonferroni adjusted over the tested groups
	Significant bool    // PAdjusted <= Alpha
}

// DisparityResult is the outcome of DisparityTest.
type DisparityResult struct {
	Reference   string // empty when no group is sufficient
	Comparisons int    // number of groups tested against the reference
	Groups      []GroupDisparity
	// MinRatio is the smallest disparate-impact ratio min(r_g/r_ref,
	// r_ref/r_g) over tested groups: 1 is parity, below 0.8 fails the
	// "four-fifths rule". NaN when nothing was tested.
	MinRatio float64
}

// DisparityTest measures outcome disparity across the groups of a segment
// attribute. Each sufficient group g is compared with the reference group
// by its rate difference r_g − r_ref, its disparate-impact ratio
// r_g/r_ref and a pooled two-proportion z-test (TwoProportionZTest); the
// p-values of the k comparisons are corrected with Holm–Bonferroni (family-
// wise error rate, valid under any dependence between the comparisons,
// which share the reference group). Groups below the minimum size are
// reported with Sufficient = false and not counted as comparisons. Groups
// with invalid counts (N <= 0, Positives outside [0, N]) are insufficient.
func DisparityTest(groups []GroupCount, opt DisparityOptions) DisparityResult {
	minN := opt.MinGroupSize
	if minN <= 0 {
		minN = DefaultMinGroupSize
	}
	alpha := opt.Alpha
	if !(alpha > 0 && alpha < 1) {
		alpha = 0.05
	}
	conf := opt.Confidence
	if !(conf > 0 && conf < 1) {
		conf = 0.95
	}
	nan := math.NaN()
	res := DisparityResult{Groups: make([]GroupDisparity, len(groups)), MinRatio: nan}
	ref := -1
	for i, g := range groups {
		gd := GroupDisparity{Group: g.Group, N: g.N, Rate: nan, Lo: nan, Hi: nan,
			RateDiff: nan, Ratio: nan, Z: nan, P: nan, PAdjusted: nan}
		if g.N > 0 && g.Positives >= 0 && g.Positives <= g.N {
			gd.Rate = g.Positives / g.N
			gd.Lo, gd.Hi = Wilson(g.Positives, g.N, conf)
			gd.Sufficient = g.N >= minN
		}
		res.Groups[i] = gd
		if !gd.Sufficient {
			continue
		}
		if opt.Reference != "" {
			if g.Group == opt.Reference {
				ref = i
			}
		} else if ref < 0 || g.N > groups[ref].N {
			ref = i
		}
	}
	if ref < 0 {
		return res
	}
	res.Reference = groups[ref].Group
	res.Groups[ref].Reference = true
	rg := groups[ref]
	var tested []int
	var ps []float64
	for i, g := range groups {
		gd := &res.Groups[i]
		if i == ref || !gd.Sufficient {
			continue
		}
		t := TwoProportionZTest(g.Positives, g.N, rg.Positives, rg.N, conf)
		gd.RateDiff, gd.Z, gd.P = t.Diff, t.Z, t.P
		if t.P2 > 0 {
			gd.Ratio = t.P1 / t.P2
		}
		tested = append(tested, i)
		ps = append(ps, t.P)
		var r float64 // min(P1/P2, P2/P1); every branch below sets it
		if t.P1 > 0 && t.P2 > 0 {
			r = math.Min(t.P1/t.P2, t.P2/t.P1)
		} else if t.P1 == 0 && t.P2 == 0 {
			r = 1
		} else {
			r = 0
		}
		if math.IsNaN(res.MinRatio) || r < res.MinRatio {
			res.MinRatio = r
		}
	}
	res.Comparisons = len(tested)
	adj := HolmBonferroni(ps)
	for k, i := range tested {
		res.Groups[i].PAdjusted = adj[k]
		res.Groups[i].Significant = adj[k] <= alpha
	}
	return res
}
