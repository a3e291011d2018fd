package window

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/sightline-dev/sightline/processors/stats"
)

// numABContinuous is the number of continuous features an A/B experiment
// compares (abContinuous); numABMetrics adds room for the outcomes' rates.
const (
	numABContinuous = len(abContinuous)
	numABMetrics    = maxOutcomes + numABContinuous
)

// metricName names metric m of an experiment: m < maxOutcomes is outcome
// m of e.outs, then the continuous features.
func (e *Experiment) metricName(m int) string {
	if m < maxOutcomes {
		return e.outs.names[m]
	}
	return numericDefs[abContinuous[m-maxOutcomes]].name
}

// isContinuous reports whether name is a continuous A/B metric.
func isContinuous(name string) bool {
	for _, i := range abContinuous {
		if numericDefs[i].name == name {
			return true
		}
	}
	return false
}

// emptyOutcomes is the outcome set of statistics without outcomes yet.
var emptyOutcomes = internOutcomes(nil)

// outcomeNamesSet is the set of names (thresholds dropped: A/B counts
// of one outcome add up whatever threshold made them, as they always
// have) in order.
func outcomeNamesSet(names []string) *outcomeSet {
	outs := make([]Outcome, len(names))
	for i, n := range names {
		outs[i] = Outcome{Name: n}
	}
	return internOutcomes(outs)
}

// unionNames is a's names then b's that a lacks (at most maxOutcomes).
func unionNames(a, b *outcomeSet) *outcomeSet {
	if a == b || b == nil {
		return a
	}
	if a == nil {
		return b
	}
	names := slices.Clone(a.names)
	for _, n := range b.names {
		if !slices.Contains(names, n) && len(names) < maxOutcomes {
			names = append(names, n)
		}
	}
	if len(names) == len(a.names) {
		return a
	}
	return outcomeNamesSet(names)
}

// remapNames is remap for sets of names where to may lack some of from's
// (they are dropped).
func remapNames[T any](counts [maxOutcomes]T, from, to *outcomeSet) [maxOutcomes]T {
	if from == to {
		return counts
	}
	var out [maxOutcomes]T
	for i, n := range from.names {
		if j := to.index(n); j >= 0 {
			out[j] = counts[i]
		}
	}
	return out
}

// ABStats is what an A/B experiment keeps of one arm: the event count, the
// positives and trials of every outcome and the exact fixed-point moments
// of the compared continuous features. These are the integers a Partial
// holds, so sums over windows are exact and do not depend on the order in
// which windows are added.
type ABStats struct {
	Count    uint64
	outs     *outcomeSet // names of outcomes[:outs.len()]; nil: none
	outcomes [maxOutcomes]outcomeCount
	moments  [numABContinuous]exactMoments
}

// align moves s's outcome counts to the order of to (names only).
func (s *ABStats) align(to *outcomeSet) {
	if s.outs == nil {
		s.outs = emptyOutcomes
	}
	s.outcomes, s.outs = remapNames(s.outcomes, s.outs, to), to
}

// outcome returns the counts of the named outcome.
func (s *ABStats) outcome(name string) outcomeCount {
	if s.outs == nil {
		return outcomeCount{}
	}
	if i := s.outs.index(name); i >= 0 {
		return s.outcomes[i]
	}
	return outcomeCount{}
}

// ABStats returns the A/B statistics of p (zero for a nil or unused
// partial).
func (p *Partial) ABStats() ABStats {
	var s ABStats
	if p == nil || p.lay == nil {
		return s
	}
	s.Count = p.count
	s.outs = p.lay.names
	for i := range s.outs.names {
		s.outcomes[i] = p.outcomes[p.lay.byName[i]]
	}
	for j, i := range abContinuous {
		s.moments[j] = p.moments[i]
	}
	return s
}

// Merge adds o to s.
func (s *ABStats) Merge(o *ABStats) {
	s.Count += o.Count
	oc := o.outcomes
	if o.outs != nil && o.outs != s.outs {
		u := unionNames(s.outs, o.outs)
		s.align(u)
		oc = remapNames(oc, o.outs, u)
	}
	for i := range s.outcomes {
		s.outcomes[i].positives += oc[i].positives
		s.outcomes[i].trials += oc[i].trials
	}
	for j := range s.moments {
		s.moments[j].merge(&o.moments[j])
	}
}

// abStatsJSON is the stored form of ABStats, by metric name so that
// metrics added later decode as empty.
type abStatsJSON struct {
	Count    uint64               `json:"n"`
	Outcomes map[string][2]uint64 `json:"outcomes,omitempty"` // positives, trials, by name
	Moments  map[string][5]uint64 `json:"moments,omitempty"`  // n, Σq hi, lo, Σq² hi, lo
}

// MarshalJSON writes the exact integers.
func (s ABStats) MarshalJSON() ([]byte, error) {
	j := abStatsJSON{Count: s.Count, Outcomes: map[string][2]uint64{}, Moments: map[string][5]uint64{}}
	if s.outs != nil {
		// Every outcome, with no trials too: decoded, the statistics are
		// equal to these.
		for i, name := range s.outs.names {
			o := s.outcomes[i]
			j.Outcomes[name] = [2]uint64{o.positives, o.trials}
		}
	}
	for k, m := range s.moments {
		if m.n > 0 {
			j.Moments[numericDefs[abContinuous[k]].name] = [5]uint64{m.n, m.sum.hi, m.sum.lo, m.sumsq.hi, m.sumsq.lo}
		}
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON wrote; unknown metrics are ignored.
func (s *ABStats) UnmarshalJSON(b []byte) error {
	var j abStatsJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("cannot decode A/B statistics: %w", err)
	}
	*s = ABStats{Count: j.Count}
	names := slices.Sorted(maps.Keys(j.Outcomes))
	if len(names) > maxOutcomes {
		return fmt.Errorf("cannot decode A/B statistics: %d outcomes, at most %d", len(names), maxOutcomes)
	}
	if len(names) > 0 {
		s.outs = outcomeNamesSet(names)
	}
	for i, name := range names {
		o := j.Outcomes[name]
		if o[0] > o[1] {
			return fmt.Errorf("cannot decode A/B statistics: %s has more positives than trials", name)
		}
		s.outcomes[i] = outcomeCount{positives: o[0], trials: o[1]}
	}
	for k, i := range abContinuous {
		if m, ok := j.Moments[numericDefs[i].name]; ok {
			s.moments[k] = exactMoments{n: m[0], sum: i128{m[1], m[2]}, sumsq: i128{m[3], m[4]}}
		}
	}
	return nil
}

// Experiment is the sequential A/B test of one treatment variant against
// the control variant, over the windows of one size of one tenant, app
// and model. It starts at its first look and accumulates both arms'
// ABStats from there; each look tests every metric (outcome rates and the
// means of the continuous features of Compare) on all data since the start
// with the mSPRT and carries its always-valid p-value and confidence
// sequence (stats.Sequential). A look is a window in which both arms had
// events (Advance); windows where one arm had none are not part of the
// experiment.
//
// The mixing variance is set at each look from the pooled data so far, as
// in Compare: τ² = (window.ab.mixing_sd)²·σ̄² for means, with σ̄² the mean
// of the two sample variances, and τ² = (mixing_sd)²·p̄(1−p̄) for rates,
// whose V is the pooled variance under H0, p̄(1−p̄)(1/n_c + 1/n_t). The
// confidence sequence is at level 1 − window.ab.alpha and uses the same V,
// so a metric is decided exactly when its interval excludes 0.
//
// An Experiment is a value: its state is its fields, stored with
// MarshalJSON, so restoring it continues the same test.
type Experiment struct {
	Control, Treatment string
	Start              int64 // window start of the first look, Unix seconds
	Last               int64 // window start of the latest look
	Looks              int

	outs      *outcomeSet // the outcome metrics: m < outs.len()
	ctl, trt  ABStats
	seq       [numABMetrics]stats.Sequential
	oneLook   [numABMetrics]float64 // 1/Λ of the latest look (NaN: none)
	decidedAt [numABMetrics]int64   // window of the look that first decided (valid when decided)
	decided   [numABMetrics]bool
}

// NewExperiment returns an experiment with no look yet.
func NewExperiment(control, treatment string, start int64) *Experiment {
	e := &Experiment{Control: control, Treatment: treatment, Start: start, Last: start, outs: emptyOutcomes}
	for i := range e.oneLook {
		e.oneLook[i] = math.NaN()
	}
	return e
}

// Clone returns a copy of e (nil for nil).
func (e *Experiment) Clone() *Experiment {
	if e == nil {
		return nil
	}
	c := *e
	return &c
}

// Cumulative returns the arms' statistics so far.
func (e *Experiment) Cumulative() (control, treatment ABStats) { return e.ctl, e.trt }

// Advance folds the window starting at windowStart of the treatment
// (treatment.Variant names it) and of the control into e, the experiment
// so far (nil: none yet), and reports whether the window was a look. It is
// one when both arms had events in it and the window starts no earlier
// than the configured start of the experiment (ABConfig.StartFor). The
// experiment starts afresh at this window when e is nil or began before
// that start. Windows must come in order: windowStart > e.Last.
func Advance(e *Experiment, treatment Key, control string, windowStart int64, ctl, trt *ABStats, cfg Config) (*Experiment, bool) {
	if ctl.Count == 0 || trt.Count == 0 {
		return e, false
	}
	start, limited := cfg.AB.StartFor(treatment)
	if limited && windowStart < start {
		return e, false
	}
	if e == nil || (limited && e.Start < start) {
		e = NewExperiment(control, treatment.Variant, windowStart)
	}
	e.Look(windowStart, ctl, trt, cfg)
	return e, true
}

// Look adds one window of both arms and tests every metric on the data
// so far. Advance decides whether a window is a look; Look does not check.
func (e *Experiment) Look(windowStart int64, ctl, trt *ABStats, cfg Config) {
	c := cfg.withDefaults()
	e.ctl.Merge(ctl)
	e.trt.Merge(trt)
	e.alignOutcomes()
	e.Looks++
	e.Last = windowStart
	sd2 := c.AB.MixingSD * c.AB.MixingSD
	for m := range e.seq {
		if m < maxOutcomes && m >= e.outs.len() {
			continue
		}
		diff, v, tau2, ok := e.estimate(m, sd2)
		if !ok {
			e.oneLook[m] = math.NaN()
			continue
		}
		e.oneLook[m] = stats.MSPRT(diff, v, tau2)
		if e.seq[m].Update(diff, v, tau2, c.AB.Alpha) && !e.decided[m] && e.seq[m].P < c.AB.Alpha {
			e.decided[m], e.decidedAt[m] = true, windowStart
		}
	}
}

// alignOutcomes makes e's outcome metrics the union of its own and its
// arms' outcomes, in that order, and the arms' counts follow it.
func (e *Experiment) alignOutcomes() {
	u := unionNames(unionNames(e.outs, e.ctl.outs), e.trt.outs)
	if u != e.outs {
		e.seq = remapMetrics(e.seq, e.outs, u)
		e.oneLook = remapMetrics(e.oneLook, e.outs, u)
		e.decidedAt = remapMetrics(e.decidedAt, e.outs, u)
		e.decided = remapMetrics(e.decided, e.outs, u)
		for m := e.outs.len(); m < maxOutcomes; m++ {
			if m >= u.len() || !slices.Contains(e.outs.names, u.names[m]) {
				e.oneLook[m] = math.NaN()
			}
		}
		e.outs = u
	}
	e.ctl.align(u)
	e.trt.align(u)
}

// remapMetrics moves the outcome part of per-metric state from the order
// of from to that of to.
func remapMetrics[T any](a [numABMetrics]T, from, to *outcomeSet) [numABMetrics]T {
	var head [maxOutcomes]T
	copy(head[:], a[:maxOutcomes])
	head = remapNames(head, from, to)
	copy(a[:maxOutcomes], head[:])
	return a
}

// estimate returns metric m's difference (treatment − control), its
// variance and τ² on the data so far; ok is false while the metric cannot
// be tested (no trials on a side or no positive on either; fewer than two
// values on a side).
func (e *Experiment) estimate(m int, sd2 float64) (diff, v, tau2 float64, ok bool) {
	if m < maxOutcomes {
		t, k := e.trt.outcomes[m], e.ctl.outcomes[m]
		if t.trials == 0 || k.trials == 0 || t.positives+k.positives == 0 {
			return 0, 0, 0, false
		}
		xt, nt, xc, nc := float64(t.positives), float64(t.trials), float64(k.positives), float64(k.trials)
		pb := (xt + xc) / (nt + nc)
		q := pb * (1 - pb)
		return xt/nt - xc/nc, q * (1/nt + 1/nc), sd2 * q, q > 0
	}
	mt, mc := e.moments(m)
	if mt.N < 2 || mc.N < 2 {
		return 0, 0, 0, false
	}
	vt, vc := mt.Variance(), mc.Variance()
	v = vt/mt.N + vc/mc.N
	return mt.Mean - mc.Mean, v, sd2 * (vt + vc) / 2, v > 0
}

// moments returns the treatment's and the control's moments of continuous
// metric m.
func (e *Experiment) moments(m int) (t, c stats.Moments) {
	j := m - maxOutcomes
	res := numericDefs[abContinuous[j]].resolution
	return e.trt.moments[j].moments(res), e.ctl.moments[j].moments(res)
}

// Signals returns the ab_msprt rows of the latest look, one per metric
// tested so far (Group: the treatment; Value: the difference treatment −
// control on all data since the start; N: the treatment's events behind
// it; Lo, Hi: the confidence sequence; PValue: the always-valid p-value;
// Decision: PValue < window.ab.alpha, which once true stays true).
// Details: control, test "msprt", sequential true, decision_test and
// default (as Compare's), mixing_sd, confidence (1 − alpha, of Lo and
// Hi), experiment_start (Unix seconds), looks (of the experiment),
// metric_looks (looks at which the metric could be tested), one_look_p
// (1/Λ at this look), decided_at (the window of the look that first
// decided, Unix seconds, or null), control_n, and the rates
// (control_rate, treatment_rate) or means and standard deviations
// (control_mean, treatment_mean, control_sd, treatment_sd) so far.
func (e *Experiment) Signals(cfg Config) []Signal {
	c := cfg.withDefaults()
	var out []Signal
	for _, m := range e.metricOrder(c) {
		sq := &e.seq[m]
		if sq.Looks == 0 {
			continue
		}
		var (
			diff float64
			n    uint64
			info map[string]any
		)
		if m < maxOutcomes {
			t, k := e.trt.outcomes[m], e.ctl.outcomes[m]
			xt, nt, xc, nc := float64(t.positives), float64(t.trials), float64(k.positives), float64(k.trials)
			diff, n = xt/nt-xc/nc, t.trials
			info = map[string]any{"control_rate": xc / nc, "treatment_rate": xt / nt, "control_n": k.trials}
		} else {
			mt, mc := e.moments(m)
			diff, n = mt.Mean-mc.Mean, uint64(mt.N)
			info = map[string]any{"control_mean": num(mc.Mean), "treatment_mean": num(mt.Mean), "control_n": uint64(mc.N),
				"control_sd": num(mc.StdDev()), "treatment_sd": num(mt.StdDev())}
		}
		s := row(e.metricName(m), "ab_msprt", diff, n)
		s.Group = e.Treatment
		p := sq.PValue()
		s.PValue, s.Threshold = ptr(p), ptr(c.AB.Alpha)
		s.Decision = p < c.AB.Alpha
		s.Lo, s.Hi = sq.Interval()
		var decidedAt any
		if e.decided[m] {
			decidedAt = e.decidedAt[m]
		}
		info["control"], info["decision_test"], info["default"] = e.Control, c.AB.Decision, c.AB.Decision == DecisionMSPRT
		info["test"], info["sequential"], info["mixing_sd"], info["confidence"] = "msprt", true, c.AB.MixingSD, 1-c.AB.Alpha
		info["experiment_start"], info["looks"], info["metric_looks"] = e.Start, e.Looks, sq.Looks
		info["one_look_p"], info["decided_at"] = num(e.oneLook[m]), decidedAt
		s.Details = info
		out = append(out, s)
	}
	return out
}

// metricOrder lists e's metrics in the order rows are written: the
// outcomes in the configured order, outcomes no longer configured, then
// the continuous features (the same order whatever order e learnt its
// outcomes in, e.g. restored from storage).
func (e *Experiment) metricOrder(c Config) []int {
	out := make([]int, 0, numABMetrics)
	seen := [maxOutcomes]bool{}
	for _, name := range c.OutcomeNames() {
		if i := e.outs.index(name); i >= 0 {
			out, seen[i] = append(out, i), true
		}
	}
	for i := range e.outs.names {
		if !seen[i] {
			out = append(out, i)
		}
	}
	for m := maxOutcomes; m < numABMetrics; m++ {
		out = append(out, m)
	}
	return out
}

// experimentJSON is the stored form of an Experiment.
type experimentJSON struct {
	Control   string                      `json:"control"`
	Treatment string                      `json:"treatment"`
	Start     int64                       `json:"start"`
	Last      int64                       `json:"last"`
	Looks     int                         `json:"looks"`
	Ctl       ABStats                     `json:"control_stats"`
	Trt       ABStats                     `json:"treatment_stats"`
	Metrics   map[string]experimentMetric `json:"metrics,omitempty"`
}

type experimentMetric struct {
	Looks     int      `json:"looks"`
	P         float64  `json:"p"`
	Lo        float64  `json:"lo"`
	Hi        float64  `json:"hi"`
	OneLook   *float64 `json:"one_look_p,omitempty"`
	DecidedAt *int64   `json:"decided_at,omitempty"`
}

// MarshalJSON writes the whole state; floats round-trip exactly, so a
// restored experiment gives the same rows as the one stored.
func (e *Experiment) MarshalJSON() ([]byte, error) {
	j := experimentJSON{Control: e.Control, Treatment: e.Treatment, Start: e.Start, Last: e.Last, Looks: e.Looks,
		Ctl: e.ctl, Trt: e.trt, Metrics: map[string]experimentMetric{}}
	for m := range e.seq {
		sq := e.seq[m]
		if sq.Looks == 0 || (m < maxOutcomes && m >= e.outs.len()) {
			continue
		}
		em := experimentMetric{Looks: sq.Looks, P: sq.P, Lo: sq.Lo, Hi: sq.Hi}
		if !math.IsNaN(e.oneLook[m]) {
			v := e.oneLook[m]
			em.OneLook = &v
		}
		if e.decided[m] {
			d := e.decidedAt[m]
			em.DecidedAt = &d
		}
		j.Metrics[e.metricName(m)] = em
	}
	return json.Marshal(j)
}

// UnmarshalJSON restores what MarshalJSON wrote.
func (e *Experiment) UnmarshalJSON(b []byte) error {
	var j experimentJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("cannot decode experiment: %w", err)
	}
	x := NewExperiment(j.Control, j.Treatment, j.Start)
	x.Last, x.Looks, x.ctl, x.trt = j.Last, j.Looks, j.Ctl, j.Trt
	// The outcome metrics: the arms' outcomes and any tested metric that
	// is not continuous, sorted (Signals orders rows by the config).
	var names []string
	for name := range j.Metrics {
		if !isContinuous(name) {
			names = append(names, name)
		}
	}
	for _, a := range []*ABStats{&x.ctl, &x.trt} {
		if a.outs != nil {
			names = append(names, a.outs.names...)
		}
	}
	slices.Sort(names)
	names = slices.Compact(names)
	if len(names) > maxOutcomes {
		return fmt.Errorf("cannot decode experiment: %d outcomes, at most %d", len(names), maxOutcomes)
	}
	x.outs = outcomeNamesSet(names)
	x.ctl.align(x.outs)
	x.trt.align(x.outs)
	for m := range x.seq {
		if m < maxOutcomes && m >= x.outs.len() {
			continue
		}
		em, ok := j.Metrics[x.metricName(m)]
		if !ok || em.Looks <= 0 {
			continue
		}
		if !(em.P >= 0 && em.P <= 1) || !(em.Lo <= em.Hi) || math.IsInf(em.Lo, 0) || math.IsInf(em.Hi, 0) {
			return fmt.Errorf("cannot decode experiment: invalid state of %s", x.metricName(m))
		}
		x.seq[m] = stats.Sequential{Looks: em.Looks, P: em.P, Lo: em.Lo, Hi: em.Hi}
		if em.OneLook != nil {
			x.oneLook[m] = *em.OneLook
		}
		if em.DecidedAt != nil {
			x.decided[m], x.decidedAt[m] = true, *em.DecidedAt
		}
	}
	*e = *x
	return nil
}

// ExperimentLook is one look as stored: the window, the arms' statistics
// of that window alone, and the experiment after it. The window's own
// statistics let the looks after a corrected window be replayed without
// reading their windows again.
type ExperimentLook struct {
	Window    int64       `json:"window"`
	Control   ABStats     `json:"control"`
	Treatment ABStats     `json:"treatment"`
	State     *Experiment `json:"state"`
}

// ABStart is a configured experiment start (window.ab.starts): it applies
// to the experiments whose treatment key matches Tenant, App, Model and
// Variant (empty matches any).
type ABStart struct {
	Tenant  string `yaml:"tenant"`
	App     string `yaml:"app"`
	Model   string `yaml:"model"`
	Variant string `yaml:"variant"`
	// Start is an RFC 3339 time.
	Start string `yaml:"start"`
}

func (s ABStart) matches(k Key) bool {
	return (s.Tenant == "" || s.Tenant == k.Tenant) && (s.App == "" || s.App == k.App) &&
		(s.Model == "" || s.Model == k.Model) && (s.Variant == "" || s.Variant == k.Variant)
}

// StartFor returns the configured start of the experiment of a treatment
// key, Unix seconds: the latest of window.ab.start and the matching
// window.ab.starts entries; ok is false when none is set. Unparsable times
// count as unset (Validate reports them).
func (c ABConfig) StartFor(treatment Key) (start int64, ok bool) {
	add := func(s string) {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return
		}
		if u := t.Unix(); !ok || u > start {
			start, ok = u, true
		}
	}
	if c.Start != "" {
		add(c.Start)
	}
	for _, s := range c.Starts {
		if s.matches(treatment) {
			add(s.Start)
		}
	}
	return start, ok
}

// validateStarts checks window.ab.start and window.ab.starts.
func (c ABConfig) validateStarts() error {
	if c.Start != "" {
		if _, err := time.Parse(time.RFC3339, c.Start); err != nil {
			return fmt.Errorf("window.ab.start must be an RFC 3339 time such as 2025-06-01T00:00:00Z, got %q", c.Start)
		}
	}
	for i, s := range c.Starts {
		if _, err := time.Parse(time.RFC3339, s.Start); err != nil {
			return fmt.Errorf("window.ab.starts[%d].start must be an RFC 3339 time such as 2025-06-01T00:00:00Z, got %q", i, s.Start)
		}
	}
	return nil
}
