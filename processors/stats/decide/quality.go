package decide

import (
	"math/rand/v2"

	"github.com/sightline-dev/sightline/processors/stats"
)

// Detection-quality scenario and targets. The targets are what the
// detection-quality report checks; the scenario constants describe the
// synthetic streams it runs.
const (
	QualityEventsPerWindow = 2000 // events per window and per side (reference, current, each group)
	QualityPartials        = 4    // score-stage partials merged into each window
	QualityBins            = 64   // equal-width bins over [−4, 4] reference SDs, plus under/overflow
	QualityMeanShift       = 0.2  // in reference standard deviations
	QualityBaseRate        = 0.20 // outcome rate of the reference group
	QualityDisparity       = 0.05 // rate difference of the disparate group (20% vs 25%)

	TargetDriftDetection = 0.95
	TargetDriftFalse     = 0.01
	TargetBiasDetection  = 0.80
	TargetBiasFalse      = 0.01
)

// QualityReport holds the measured detection rates of DetectionQuality.
type QualityReport struct {
	Seed            int64
	Windows         int // windows per scenario
	EventsPerWindow int

	DriftDetected float64 // fraction of shifted windows flagged as drifted
	DriftFalse    float64 // fraction of stationary windows flagged
	BiasDetected  float64 // fraction of disparate windows with a bias finding
	BiasFalse     float64 // fraction of parity windows with a bias finding

	Pass bool // all four rates meet their targets
}

// DetectionQuality measures the drift and bias decisions (default
// configurations) on synthetic streams with known truth. Each of windows
// windows is an independent trial, seeded from seed:
//
//   - drift: a reference window and a current window of 2,000 N(0,1) events
//     each, binned into the fixed-edge histograms the stream uses (each
//     window assembled by merging 4 partials), decided by Numeric; in the
//     shifted scenario the current events are N(0.2, 1).
//   - bias: two groups of 2,000 events each with outcome rate 20%; in the
//     disparate scenario the second group's rate is 25%; decided by Bias.
//
// The same seed and windows always give the same report. Cost is about
// 1 ms per window on one core.
func DetectionQuality(seed int64, windows int) QualityReport {
	rep := QualityReport{Seed: seed, Windows: windows, EventsPerWindow: QualityEventsPerWindow}
	if windows <= 0 {
		return rep
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))
	edges := stats.LinearEdges(-4, 4, QualityBins)
	proto, _ := stats.NewHistogram(edges)
	part := proto.Clone()
	window := func(shift float64) *stats.Histogram {
		w := proto.Clone()
		per := QualityEventsPerWindow / QualityPartials
		for p := 0; p < QualityPartials; p++ {
			part.Reset()
			for i := 0; i < per; i++ {
				part.Add(rng.NormFloat64() + shift)
			}
			_ = w.Merge(part)
		}
		return w
	}
	group := func(name string, rate float64) stats.GroupCount {
		g := stats.GroupCount{Group: name, N: QualityEventsPerWindow}
		for i := 0; i < QualityEventsPerWindow; i++ {
			if rng.Float64() < rate {
				g.Positives++
			}
		}
		return g
	}
	cfg := DefaultDriftConfig()
	var dHit, dFalse, bHit, bFalse int
	for w := 0; w < windows; w++ {
		if Numeric(window(0), window(QualityMeanShift), cfg).Drifted {
			dHit++
		}
		if Numeric(window(0), window(0), cfg).Drifted {
			dFalse++
		}
		// Reference group listed first and equal sizes: it is the reference.
		if Bias([]stats.GroupCount{group("a", QualityBaseRate), group("b", QualityBaseRate+QualityDisparity)}, BiasConfig{}).Finding {
			bHit++
		}
		if Bias([]stats.GroupCount{group("a", QualityBaseRate), group("b", QualityBaseRate)}, BiasConfig{}).Finding {
			bFalse++
		}
	}
	n := float64(windows)
	rep.DriftDetected = float64(dHit) / n
	rep.DriftFalse = float64(dFalse) / n
	rep.BiasDetected = float64(bHit) / n
	rep.BiasFalse = float64(bFalse) / n
	rep.Pass = rep.DriftDetected >= TargetDriftDetection && rep.DriftFalse <= TargetDriftFalse &&
		rep.BiasDetected >= TargetBiasDetection && rep.BiasFalse <= TargetBiasFalse
	return rep
}
