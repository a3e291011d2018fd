package reeval

import (
	"fmt"
	"io"
	"math"
	"time"
)

// Agreement compares an online detector's decisions (score >= Threshold)
// with the judge's, taking the judge as the truth: precision = TP/(TP+FP),
// recall = TP/(TP+FN), F1 = 2TP/(2TP+FP+FN). A figure whose denominator is
// zero is NaN (undefined, stored as NULL). N counts the events where both
// the detector and the judge gave a decision.
type Agreement struct {
	Detector              string
	Threshold             float64
	N, TP, FP, FN, TN     int
	Precision, Recall, F1 float64
}

// add counts one event.
func (a *Agreement) add(detector, judge bool) {
	a.N++
	switch {
	case detector && judge:
		a.TP++
	case detector:
		a.FP++
	case judge:
		a.FN++
	default:
		a.TN++
	}
}

func (a *Agreement) finish() {
	a.Precision = ratio(a.TP, a.TP+a.FP)
	a.Recall = ratio(a.TP, a.TP+a.FN)
	a.F1 = ratio(2*a.TP, 2*a.TP+a.FP+a.FN)
}

func ratio(n, d int) float64 {
	if d == 0 {
		return math.NaN()
	}
	return float64(n) / float64(d)
}

// Summary is what a job did and found. Counts of this run: Judged (sent to
// the judge), Invalid (answered, but unusable), Failed (no answer after the
// retries). Skipped events had a valid verdict from an earlier run of the
// job. Verdicts counts the valid verdicts, old and new, of the job's events:
// the base of the rates and agreement figures.
type Summary struct {
	JobID      string
	AlertID    string
	Scope      Scope
	From, To   time.Time
	JudgeModel string

	Events, Skipped, Judged, Invalid, Failed, Verdicts int
	// Truncated is set when MaxEvents stopped the job before the end of its
	// range.
	Truncated bool

	// The judge's rates over Verdicts (hallucination over the verdicts of
	// events with context or a reference); NaN when there were none.
	ToxicRate, HallucinationRate, BiasRate  float64
	toxic, hallucinated, halChecked, biased int

	Toxicity, Hallucination Agreement

	Started, Finished time.Time
}

func newSummary(cfg *Config) Summary {
	return Summary{
		JobID: cfg.JobID, AlertID: cfg.AlertID, Scope: cfg.Scope, From: cfg.From, To: cfg.To, JudgeModel: cfg.JudgeModel,
		Toxicity:      Agreement{Detector: "completion_toxicity", Threshold: cfg.ToxicityThreshold},
		Hallucination: Agreement{Detector: "hallucination", Threshold: cfg.HallucinationThreshold},
	}
}

// count adds one event's valid verdict with the detectors' scores.
func (s *Summary) count(j judged, detTox, detHal *float32) {
	s.Verdicts++
	if j.toxic {
		s.toxic++
	}
	if j.biased {
		s.biased++
	}
	if j.hallucinated != nil {
		s.halChecked++
		if *j.hallucinated {
			s.hallucinated++
		}
	}
	if detTox != nil {
		s.Toxicity.add(float64(*detTox) >= s.Toxicity.Threshold, j.toxic)
	}
	if detHal != nil && j.hallucinated != nil {
		s.Hallucination.add(float64(*detHal) >= s.Hallucination.Threshold, *j.hallucinated)
	}
}

func (s *Summary) finish() {
	s.ToxicRate = ratio(s.toxic, s.Verdicts)
	s.BiasRate = ratio(s.biased, s.Verdicts)
	s.HallucinationRate = ratio(s.hallucinated, s.halChecked)
	s.Toxicity.finish()
	s.Hallucination.finish()
}

func pct(f float64) string {
	if math.IsNaN(f) {
		return "n/a"
	}
	return fmt.Sprintf("%.1f%%", 100*f)
}

func num(f float64) string {
	if math.IsNaN(f) {
		return "n/a"
	}
	return fmt.Sprintf("%.3f", f)
}

// Print writes the summary for people.
func (s *Summary) Print(w io.Writer) {
	scope := func(v string) string {
		if s.AlertID != "" {
			return fmt.Sprintf("%q", v) // an alert's key matches exactly
		}
		if v == "" {
			return "*"
		}
		return v
	}
	fmt.Fprintf(w, "reeval job %s", s.JobID)
	if s.AlertID != "" {
		fmt.Fprintf(w, " (alert %s)", s.AlertID)
	}
	fmt.Fprintf(w, ": tenant=%s app=%s model=%s variant=%s, %s to %s, judge %s\n",
		scope(s.Scope.Tenant), scope(s.Scope.App), scope(s.Scope.Model), scope(s.Scope.Variant),
		s.From.UTC().Format(time.RFC3339), s.To.UTC().Format(time.RFC3339), s.JudgeModel)
	fmt.Fprintf(w, "  events %d: judged now %d (invalid %d, failed %d), skipped (judged before) %d; valid verdicts %d; took %s\n",
		s.Events, s.Judged, s.Invalid, s.Failed, s.Skipped, s.Verdicts, s.Finished.Sub(s.Started).Round(time.Millisecond))
	if s.Truncated {
		fmt.Fprintf(w, "  stopped at --max-events: later events in the range were not judged\n")
	}
	fmt.Fprintf(w, "  judge rates: toxic %s, hallucinated %s (of %d checkable), biased %s\n",
		pct(s.ToxicRate), pct(s.HallucinationRate), s.halChecked, pct(s.BiasRate))
	for _, a := range []Agreement{s.Toxicity, s.Hallucination} {
		fmt.Fprintf(w, "  detector %s >= %.2f vs judge (n=%d): precision %s recall %s F1 %s (tp %d fp %d fn %d tn %d)\n",
			a.Detector, a.Threshold, a.N, num(a.Precision), num(a.Recall), num(a.F1), a.TP, a.FP, a.FN, a.TN)
	}
	if s.Invalid+s.Failed > 0 {
		fmt.Fprintf(w, "  %d events have no valid verdict: rerun with --job-id %s to retry only those\n", s.Invalid+s.Failed, s.JobID)
	}
}
