package decide

import "github.com/sightline-dev/sightline/processors/stats"

// BiasConfig holds the thresholds of the bias decision; zero fields take
// their defaults.
type BiasConfig struct {
	// Alpha is the family-wise level across the groups of one segment
	// attribute (Holm–Bonferroni over the comparisons with the reference
	// group). Default 0.005: at 2,000 events per group it keeps false
	// findings on parity near 0.5% of windows while a 5-point disparity
	// (20% vs 25%) is found in about 84% of windows.
	Alpha float64
	// MinGroupSize below which a group is reported as insufficient and not
	// tested. Default 100.
	MinGroupSize float64
	// Reference group; empty selects the largest group.
	Reference string
}

// Defaults used by BiasConfig.
const (
	DefaultBiasAlpha    = 0.005
	DefaultMinGroupSize = 100
)

// BiasDecision is the verdict for one segment attribute and window.
type BiasDecision struct {
	Finding    bool
	Sufficient bool     // at least two groups were large enough to compare
	Flagged    []string // groups whose disparity is significant
	Result     stats.DisparityResult
}

// Bias decides whether the outcome rate differs across the groups of one
// segment attribute: each sufficient group is compared with the reference
// group by stats.DisparityTest, and there is a finding when any
// Holm-adjusted p-value is <= Alpha. The disparate-impact ratio and rate
// difference are reported in Result for the alert rules that want an
// effect-size threshold as well (e.g. MinRatio < 0.8).
func Bias(groups []stats.GroupCount, cfg BiasConfig) BiasDecision {
	alpha := cfg.Alpha
	if !(alpha > 0 && alpha < 1) {
		alpha = DefaultBiasAlpha
	}
	minN := cfg.MinGroupSize
	if minN <= 0 {
		minN = DefaultMinGroupSize
	}
	r := stats.DisparityTest(groups, stats.DisparityOptions{
		Reference:    cfg.Reference,
		MinGroupSize: minN,
		Alpha:        alpha,
	})
	d := BiasDecision{Result: r, Sufficient: r.Comparisons > 0}
	for _, g := range r.Groups {
		if g.Significant {
			d.Flagged = append(d.Flagged, g.Group)
		}
	}
	d.Finding = len(d.Flagged) > 0
	return d
}
