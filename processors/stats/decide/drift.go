package decide

import (
	"math"

	"github.com/sightline-dev/sightline/processors/stats"
)

// DriftConfig holds the thresholds of the drift decisions. Start from
// DefaultDriftConfig; zero fields are replaced by their defaults.
type DriftConfig struct {
	// Alpha is the family-wise false-alarm level per window across all
	// Features tested for one key. Default 0.01.
	Alpha float64
	// Features is the number of features tested per window; each test runs
	// at Alpha/Features (Bonferroni). Default 1.
	Features int
	// PSIThreshold flags drift on effect size alone, whatever the p-value:
	// PSI > 0.2 is the conventional "significant shift". Default 0.2.
	PSIThreshold float64
	// MinSamples is the smallest count on each side for a decision.
	// Default 100.
	MinSamples float64
	// Permutations for the embedding MMD test. Default 200.
	Permutations int
	// Seed for the embedding permutation test. Default 1.
	Seed uint64
}

// Defaults used by DefaultDriftConfig.
const (
	DefaultDriftAlpha   = 0.01
	DefaultPSIThreshold = 0.2
	DefaultMinSamples   = 100
	DefaultPermutations = 200
)

// DefaultDriftConfig returns the documented defaults for one feature.
func DefaultDriftConfig() DriftConfig {
	return DriftConfig{
		Alpha:        DefaultDriftAlpha,
		Features:     1,
		PSIThreshold: DefaultPSIThreshold,
		MinSamples:   DefaultMinSamples,
		Permutations: DefaultPermutations,
		Seed:         1,
	}
}

func (c DriftConfig) withDefaults() DriftConfig {
	d := DefaultDriftConfig()
	if c.Alpha > 0 && c.Alpha < 1 {
		d.Alpha = c.Alpha
	}
	if c.Features > 0 {
		d.Features = c.Features
	}
	if c.PSIThreshold > 0 {
		d.PSIThreshold = c.PSIThreshold
	}
	if c.MinSamples > 0 {
		d.MinSamples = c.MinSamples
	}
	if c.Permutations > 0 {
		d.Permutations = c.Permutations
	}
	if c.Seed != 0 {
		d.Seed = c.Seed
	}
	return d
}

// Drift reasons.
const (
	ReasonKS           = "ks"
	ReasonPSI          = "psi"
	ReasonChiSquare    = "chi2"
	ReasonMMD          = "mmd"
	ReasonInsufficient = "insufficient"
)

// DriftDecision is the verdict for one feature and window. Statistics that
// do not apply to the feature kind are NaN.
type DriftDecision struct {
	Drifted    bool
	Sufficient bool     // both sides have at least MinSamples
	Reasons    []string // which rules fired (ReasonKS, ...), or ReasonInsufficient
	Alpha      float64  // per-feature level, Alpha/Features

	KS          stats.KSResult
	ChiSquare   stats.ChiSquareResult
	PSI         float64
	JS          float64
	Wasserstein float64
	MMD         stats.MMDResult
}

func newDecision(c DriftConfig) DriftDecision {
	nan := math.NaN()
	return DriftDecision{
		Alpha:       c.Alpha / float64(c.Features),
		KS:          stats.KSResult{D: nan, P: nan},
		ChiSquare:   stats.ChiSquareResult{Stat: nan, DoF: nan, P: nan},
		PSI:         nan,
		JS:          nan,
		Wasserstein: nan,
		MMD:         stats.MMDResult{MMD2: nan, Threshold: nan, P: nan, Bandwidth: nan},
	}
}

// Numeric decides drift of a numeric feature from the reference and current
// histograms (same edges; the mergeable window representation):
//
//	drifted = KS p < Alpha/Features  or  PSI > PSIThreshold
//
// KS is stats.KSHistogram (asymptotic, conservative on binned data), PSI is
// over all bins including under/overflow. JS and Wasserstein (bin
// midpoints) are reported but do not decide: they have no null distribution
// and their scale depends on the feature. Histograms with different edges
// or fewer than MinSamples on a side give Sufficient = false.
func Numeric(ref, cur *stats.Histogram, cfg DriftConfig) DriftDecision {
	c := cfg.withDefaults()
	d := newDecision(c)
	if ref == nil || cur == nil || ref.Total() < c.MinSamples || cur.Total() < c.MinSamples {
		d.Reasons = []string{ReasonInsufficient}
		return d
	}
	d.KS = stats.KSHistogram(ref, cur)
	if math.IsNaN(d.KS.P) {
		d.Reasons = []string{ReasonInsufficient}
		return d
	}
	d.Sufficient = true
	d.PSI = stats.PSIHistogram(ref, cur)
	d.JS = stats.JSDistanceHistogram(ref, cur)
	d.Wasserstein = stats.WassersteinHistogram(ref, cur)
	if d.KS.P < d.Alpha {
		d.Reasons = append(d.Reasons, ReasonKS)
	}
	if d.PSI > c.PSIThreshold {
		d.Reasons = append(d.Reasons, ReasonPSI)
	}
	d.Drifted = len(d.Reasons) > 0
	return d
}

// NumericSamples is Numeric for raw samples (for example a baseline kept
// as a sample): KS is stats.KS2Sample (exact where affordable),
// Wasserstein is over the samples, and PSI/JS are computed over ten bins at
// the reference deciles (stats.QuantileEdges) plus under/overflow.
func NumericSamples(ref, cur []float64, cfg DriftConfig) DriftDecision {
	c := cfg.withDefaults()
	d := newDecision(c)
	if float64(len(ref)) < c.MinSamples || float64(len(cur)) < c.MinSamples {
		d.Reasons = []string{ReasonInsufficient}
		return d
	}
	d.KS = stats.KS2Sample(ref, cur)
	if math.IsNaN(d.KS.P) {
		d.Reasons = []string{ReasonInsufficient}
		return d
	}
	d.Sufficient = true
	d.Wasserstein = stats.WassersteinSamples(ref, cur)
	if edges := stats.QuantileEdges(ref, 10); edges != nil {
		hr, _ := stats.NewHistogram(edges)
		hc := hr.Clone()
		for _, v := range ref {
			hr.Add(v)
		}
		for _, v := range cur {
			hc.Add(v)
		}
		d.PSI = stats.PSIHistogram(hr, hc)
		d.JS = stats.JSDistanceHistogram(hr, hc)
	}
	if d.KS.P < d.Alpha {
		d.Reasons = append(d.Reasons, ReasonKS)
	}
	if d.PSI > c.PSIThreshold {
		d.Reasons = append(d.Reasons, ReasonPSI)
	}
	d.Drifted = len(d.Reasons) > 0
	return d
}

// Categorical decides drift of a categorical feature from category counts
// in a fixed order (the same categories on both sides, "other" included):
//
//	drifted = chi-square p < Alpha/Features  or  PSI > PSIThreshold
//
// with stats.ChiSquareHomogeneity and stats.PSI; JS is reported.
func Categorical(ref, cur []float64, cfg DriftConfig) DriftDecision {
	c := cfg.withDefaults()
	d := newDecision(c)
	if len(ref) != len(cur) || sum(ref) < c.MinSamples || sum(cur) < c.MinSamples {
		d.Reasons = []string{ReasonInsufficient}
		return d
	}
	d.ChiSquare = stats.ChiSquareHomogeneity(ref, cur)
	d.PSI = stats.PSI(ref, cur)
	d.JS = stats.JSDistance(ref, cur)
	if math.IsNaN(d.PSI) {
		d.Reasons = []string{ReasonInsufficient}
		return d
	}
	d.Sufficient = true
	// A single populated category on both sides has no chi-square (NaN) and
	// no drift.
	if d.ChiSquare.P < d.Alpha {
		d.Reasons = append(d.Reasons, ReasonChiSquare)
	}
	if d.PSI > c.PSIThreshold {
		d.Reasons = append(d.Reasons, ReasonPSI)
	}
	d.Drifted = len(d.Reasons) > 0
	return d
}

// Embedding decides drift of fixed-size embedding vectors (samples of the
// window's embeddings, typically a few hundred per side):
//
//	drifted = MMD² permutation p < Alpha/Features
//
// using an RBF kernel with the median-heuristic bandwidth, Permutations
// shuffles and Seed. Fewer than
// MinSamples/10 vectors (at least 2) on a side gives Sufficient = false:
// the permutation test is exact at any size, but its smallest p-value is
// 1/(Permutations+1).
func Embedding(ref, cur [][]float64, cfg DriftConfig) DriftDecision {
	c := cfg.withDefaults()
	d := newDecision(c)
	minN := max(2, int(c.MinSamples/10))
	if len(ref) < minN || len(cur) < minN {
		d.Reasons = []string{ReasonInsufficient}
		return d
	}
	d.MMD = stats.MMDDecision(ref, cur, stats.Kernel{Kind: stats.RBF}, c.Permutations, d.Alpha, c.Seed)
	if math.IsNaN(d.MMD.P) {
		d.Reasons = []string{ReasonInsufficient}
		return d
	}
	d.Sufficient = true
	if d.MMD.P < d.Alpha {
		d.Reasons = append(d.Reasons, ReasonMMD)
	}
	d.Drifted = len(d.Reasons) > 0
	return d
}

func sum(c []float64) float64 {
	var s float64
	for _, v := range c {
		if v > 0 {
			s += v
		}
	}
	return s
}
