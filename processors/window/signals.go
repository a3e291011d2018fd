package window

import (
	"encoding/json"
	"math"
	"sort"

	"github.com/sightline-dev/sightline/processors/stats"
	"github.com/sightline-dev/sightline/processors/stats/decide"
)

// Signal is one row of llm_signals: one statistic of one subject for a key
// and window. Name is the subject (an outcome such as "toxicity", a feature
// such as "latency_ms", "events", "prompt_text"), Metric the statistic
// ("rate", "p99", "drift_ks", "bias_rate_diff", "ab_welch", ...), Group the
// segment group ("attr=value") or A/B variant it is about, if any.
//
// Value is the statistic; N the number of events behind it (for
// comparisons: of the current window, group or treatment); Lo and Hi an
// interval where there is one (NaN otherwise); PValue and Threshold are set
// for tests; Decision is the finding (drifted, significant disparity, A/B
// difference); Baseline names what a drift row compared with. Details holds
// the other statistics of the row, JSON-ready (non-finite numbers as nil).
type Signal struct {
	Name, Metric, Group string
	Value               float64
	N                   uint64
	Lo, Hi              float64
	PValue              *float64
	Threshold           *float64
	Decision            bool
	Baseline            string
	Details             map[string]any
}

// MarshalJSON writes non-finite numbers as null.
func (s Signal) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Name      string         `json:"name"`
		Metric    string         `json:"metric"`
		Group     string         `json:"group,omitempty"`
		Value     any            `json:"value"`
		N         uint64         `json:"n"`
		Lo        any            `json:"lo"`
		Hi        any            `json:"hi"`
		PValue    any            `json:"p_value"`
		Threshold any            `json:"threshold"`
		Decision  bool           `json:"decision"`
		Baseline  string         `json:"baseline,omitempty"`
		Details   map[string]any `json:"details,omitempty"`
	}{s.Name, s.Metric, s.Group, num(s.Value), s.N, num(s.Lo), num(s.Hi), numPtr(s.PValue), numPtr(s.Threshold),
		s.Decision, s.Baseline, s.Details})
}

// num returns v, or nil when it is not finite (JSON has no NaN).
func num(v float64) any {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return v
}

func numPtr(v *float64) any {
	if v == nil {
		return nil
	}
	return num(*v)
}

func ptr(v float64) *float64 {
	if math.IsNaN(v) {
		return nil
	}
	return &v
}

func row(name, metric string, value float64, n uint64) Signal {
	return Signal{Name: name, Metric: metric, Value: value, N: n, Lo: math.NaN(), Hi: math.NaN()}
}

// Quantiles reported for each sketch.
var quantiles = []struct {
	metric string
	q      float64
}{{"p50", 0.5}, {"p90", 0.9}, {"p99", 0.99}}

// Signals computes the signals of a closed window cur. With a baseline
// (the rolling previous windows, a pinned range or a reference file; nil
// for none) it adds the drift rows, labelled baselineName. cfg supplies the
// decision thresholds (the shaping settings come from the partials). The
// rows, in order:
//
//   - events/count.
//   - rates: <outcome>/rate with a Wilson interval, for toxicity,
//     hallucination (of checkable events), refusal, pii, prompt_injection
//     and error; N is the number of events the outcome could be judged on.
//   - quantiles: <metric>/p50, p90, p99 from the DDSketch (relative error
//     1%) and <metric>/mean for latency_ms, ttft_ms, input_tokens,
//     output_tokens, total_tokens and cost_usd; <metric>/total for the
//     token counts and cost_usd (exact sums).
//   - drift (baseline given): for each numeric feature drift_psi, drift_js,
//     drift_ks (D, p-value), drift_wasserstein (bin midpoints, the feature's
//     unit) and drift (the decision: KS p < alpha/36 or PSI > psi_threshold,
//     decide.Numeric; the 18 numeric and categorical features share half of
//     window.drift.alpha); for each categorical feature drift_psi, drift_js,
//     drift_chi2 (statistic, p-value) and drift (decide.Categorical); for the
//     prompt text prompt_text/drift_centroid (cosine distance of the exact
//     centroids), drift_mmd (MMD², permutation p-value and threshold) and
//     drift (decide.Embedding, MMD p < alpha/2). A feature without enough data on a side gets
//     only its drift row, Decision false and Details["insufficient"] true.
//   - bias: for each segment attribute and outcome, per group
//     <outcome>/bias_rate (Group "attr=value", Wilson interval), and for the
//     tested groups bias_rate_diff (vs the reference group, Holm-adjusted
//     p-value, Decision significant) and bias_di_ratio; then <outcome>/bias
//     (Group "attr") with the attribute's finding, Value the smallest
//     disparate-impact ratio. Groups below MinGroupSize, and the overflow
//     group, are reported with Details["insufficient"] true, never as
//     findings.
func Signals(cur *Partial, baseline *Partial, baselineName string, cfg Config) []Signal {
	if cur == nil || cur.lay == nil {
		return nil
	}
	c := cfg.withDefaults()
	out := make([]Signal, 0, 64)
	out = append(out, row("events", "count", float64(cur.count), cur.count))
	out = appendRates(out, cur, c)
	out = appendQuantiles(out, cur)
	if baseline != nil && baseline.lay != nil {
		out = appendDrift(out, cur, baseline, baselineName, c)
	}
	out = appendBias(out, cur, c)
	return out
}

func appendRates(out []Signal, p *Partial, c Config) []Signal {
	for i, name := range p.lay.outs.names {
		o := p.outcomes[i]
		if o.trials == 0 {
			continue
		}
		x, n := float64(o.positives), float64(o.trials)
		s := row(name, "rate", x/n, o.trials)
		s.Lo, s.Hi = stats.Wilson(x, n, c.Confidence)
		s.Details = map[string]any{"positives": o.positives, "confidence": c.Confidence, "interval": "wilson"}
		if t := p.lay.outs.thresholds[i]; t > 0 {
			s.Details["score_threshold"] = t
		}
		out = append(out, s)
	}
	return out
}

func appendQuantiles(out []Signal, p *Partial) []Signal {
	for i, sk := range p.sketches {
		if sk == nil || sk.IsEmpty() {
			continue
		}
		d := sketchDefs[i]
		n := uint64(sk.GetCount())
		for _, q := range quantiles {
			v, err := sk.GetValueAtQuantile(q.q)
			if err != nil {
				continue
			}
			s := row(d.name, q.metric, v, n)
			s.Details = map[string]any{"relative_accuracy": SketchRelativeAccuracy}
			out = append(out, s)
		}
		m := p.moments[d.numeric].moments(numericDefs[d.numeric].resolution)
		out = append(out, row(d.name, "mean", m.Mean, uint64(m.N)))
	}
	for _, i := range []int{numInputTokens, numOutputTokens, numTotalTokens, numCost} {
		m := &p.moments[i]
		if m.n == 0 {
			continue
		}
		out = append(out, row(numericDefs[i].name, "total", m.sumValue(numericDefs[i].resolution), m.n))
	}
	return out
}

// The family-wise drift level window.drift.alpha is split in two halves
// (Bonferroni): one for the prompt-text MMD test, whose permutation p-value
// cannot go below 1/(permutations+1), and one shared by the numeric and
// categorical features.
const (
	tabularFeatures = numNumeric + numCategorical
	tabularDivisor  = 2 * tabularFeatures
	textDivisor     = 2
)

func (c Config) decideConfig() decide.DriftConfig {
	return decide.DriftConfig{
		Alpha:        c.Drift.Alpha,
		Features:     tabularDivisor,
		PSIThreshold: c.Drift.PSIThreshold,
		MinSamples:   c.Drift.MinSamples,
		Permutations: c.Drift.Permutations,
		Seed:         c.Drift.Seed,
	}
}

func appendDrift(out []Signal, cur, base *Partial, baseName string, c Config) []Signal {
	dc := c.decideConfig()
	for i := range cur.hists {
		hc, hb := &cur.hists[i], &base.hists[i]
		if hc.Total() == 0 && hb.Total() == 0 {
			continue // feature absent on both sides (e.g. ttft without streaming)
		}
		out = appendNumericDrift(out, numericDefs[i].name, decide.Numeric(hb, hc, dc), uint64(hc.Total()), baseName, dc)
	}
	for i := 0; i < numCategorical; i++ {
		keys, rc, cc := alignedCategories(base, cur, i)
		if sum(rc) == 0 && sum(cc) == 0 {
			continue
		}
		d := decide.Categorical(rc, cc, dc)
		out = appendCategoricalDrift(out, categoricalNames[i], keys, rc, cc, d, uint64(sum(cc)), baseName, dc)
	}
	return appendTextDrift(out, cur, base, baseName, dc)
}

func driftDetails(d decide.DriftDecision, dc decide.DriftConfig) map[string]any {
	reasons := d.Reasons
	if reasons == nil {
		reasons = []string{}
	}
	return map[string]any{
		"psi": num(d.PSI), "js": num(d.JS), "ks": num(d.KS.D), "ks_p": num(d.KS.P),
		"wasserstein": num(d.Wasserstein), "chi2": num(d.ChiSquare.Stat), "chi2_p": num(d.ChiSquare.P),
		"alpha": d.Alpha, "psi_threshold": dc.PSIThreshold, "reasons": reasons,
		"insufficient": !d.Sufficient,
	}
}

func appendNumericDrift(out []Signal, name string, d decide.DriftDecision, n uint64, baseName string, dc decide.DriftConfig) []Signal {
	mk := func(metric string, v float64) Signal {
		s := row(name, metric, v, n)
		s.Baseline = baseName
		return s
	}
	if d.Sufficient {
		psi := mk("drift_psi", d.PSI)
		psi.Threshold = ptr(dc.PSIThreshold)
		psi.Decision = d.PSI > dc.PSIThreshold
		ks := mk("drift_ks", d.KS.D)
		ks.PValue, ks.Threshold = ptr(d.KS.P), ptr(d.Alpha)
		ks.Decision = d.KS.P < d.Alpha
		out = append(out, psi, mk("drift_js", d.JS), ks, mk("drift_wasserstein", d.Wasserstein))
	}
	s := mk("drift", b2f(d.Drifted))
	s.Decision = d.Drifted
	s.Threshold = ptr(d.Alpha)
	if d.Sufficient {
		s.PValue = ptr(d.KS.P)
	}
	s.Details = driftDetails(d, dc)
	s.Details["test"] = "ks_histogram"
	return append(out, s)
}

func appendCategoricalDrift(out []Signal, name string, keys []string, rc, cc []float64, d decide.DriftDecision, n uint64, baseName string, dc decide.DriftConfig) []Signal {
	mk := func(metric string, v float64) Signal {
		s := row(name, metric, v, n)
		s.Baseline = baseName
		return s
	}
	if d.Sufficient {
		psi := mk("drift_psi", d.PSI)
		psi.Threshold = ptr(dc.PSIThreshold)
		psi.Decision = d.PSI > dc.PSIThreshold
		chi := mk("drift_chi2", d.ChiSquare.Stat)
		chi.PValue, chi.Threshold = ptr(d.ChiSquare.P), ptr(d.Alpha)
		chi.Decision = d.ChiSquare.P < d.Alpha
		chi.Details = map[string]any{"dof": num(d.ChiSquare.DoF)}
		out = append(out, psi, mk("drift_js", d.JS), chi)
	}
	s := mk("drift", b2f(d.Drifted))
	s.Decision = d.Drifted
	s.Threshold = ptr(d.Alpha)
	if d.Sufficient {
		s.PValue = ptr(d.ChiSquare.P)
	}
	s.Details = driftDetails(d, dc)
	s.Details["test"] = "chi2"
	cats := make(map[string]any, len(keys))
	for j, k := range keys {
		cats[k] = map[string]any{"baseline": rc[j], "current": cc[j]}
	}
	s.Details["categories"] = cats
	return append(out, s)
}

func appendTextDrift(out []Signal, cur, base *Partial, baseName string, dc decide.DriftConfig) []Signal {
	if cur.embN == 0 && base.embN == 0 {
		return out
	}
	dims := cur.lay.dims
	n := cur.embN
	dc.Features = textDivisor
	mk := func(metric string, v float64) Signal {
		s := row("prompt_text", metric, v, n)
		s.Baseline = baseName
		return s
	}
	var d decide.DriftDecision
	if base.lay.dims == dims {
		d = decide.Embedding(base.embSample.vectors(dims), cur.embSample.vectors(dims), dc)
	} else {
		d = decide.Embedding(nil, nil, dc)
	}
	centroid := math.NaN()
	if cur.embN > 0 && base.embN > 0 && len(base.embSum) == len(cur.embSum) {
		a, b := make([]float64, dims), make([]float64, dims)
		for i := range a {
			a[i] = float64(base.embSum[i]) / float64(base.embN)
			b[i] = float64(cur.embSum[i]) / float64(cur.embN)
		}
		centroid = stats.VectorDistance(a, b, stats.Cosine)
	}
	if !math.IsNaN(centroid) {
		cs := mk("drift_centroid", centroid)
		cs.Details = map[string]any{"metric": "cosine", "baseline_n": base.embN}
		out = append(out, cs)
	}
	if d.Sufficient {
		m := mk("drift_mmd", d.MMD.MMD2)
		m.PValue, m.Threshold = ptr(d.MMD.P), ptr(d.Alpha)
		m.Decision = d.MMD.P < d.Alpha
		m.Details = map[string]any{"mmd2_threshold": num(d.MMD.Threshold), "bandwidth": num(d.MMD.Bandwidth),
			// Shuffles made: fewer than configured when the test stopped as
			// soon as it could no longer flag (stats.MMDDecision); p_value
			// then comes from those shuffles.
			"permutations": d.MMD.Permutations, "permutations_max": dc.Permutations,
			"sample_current": len(cur.embSample.hashes), "sample_baseline": len(base.embSample.hashes)}
		out = append(out, m)
	}
	s := mk("drift", b2f(d.Drifted))
	s.Decision = d.Drifted
	s.Threshold = ptr(d.Alpha)
	if d.Sufficient {
		s.PValue = ptr(d.MMD.P)
	}
	s.Details = map[string]any{"test": "mmd_permutation", "kernel": "rbf_median", "insufficient": !d.Sufficient,
		"alpha": d.Alpha, "centroid_cosine": num(centroid), "mmd2": num(d.MMD.MMD2), "mmd_p": num(d.MMD.P)}
	return append(out, s)
}

// alignedCategories returns the union of the category names of two
// partials (sorted, the overflow last) and both count vectors over it.
func alignedCategories(base, cur *Partial, i int) (keys []string, rc, cc []float64) {
	switch i {
	case catScript:
		keys = scriptNames[:]
		rc, cc = u2f(base.scripts[:]), u2f(cur.scripts[:])
		return
	case catTopic:
		if len(base.topics) != len(cur.topics) {
			return nil, nil, nil
		}
		for t := range cur.topics {
			keys = append(keys, topicName(t, cur.lay.topicBits))
		}
		return keys, u2f(base.topics), u2f(cur.topics)
	}
	b, c := &base.cats[i], &cur.cats[i]
	set := map[string]bool{}
	for k := range b.m {
		set[k] = true
	}
	for k := range c.m {
		set[k] = true
	}
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		rc = append(rc, float64(b.m[k]))
		cc = append(cc, float64(c.m[k]))
	}
	if b.other > 0 || c.other > 0 {
		keys = append(keys, OtherGroup)
		rc = append(rc, float64(b.other))
		cc = append(cc, float64(c.other))
	}
	return keys, rc, cc
}

func appendBias(out []Signal, p *Partial, c Config) []Signal {
	attrs := make([]string, 0, len(p.segments))
	for a := range p.segments {
		attrs = append(attrs, a)
	}
	sort.Strings(attrs)
	outcomes := c.Bias.Outcomes
	if len(outcomes) == 0 {
		outcomes = p.lay.outs.names
	}
	for _, a := range attrs {
		for _, oname := range outcomes {
			if oi := p.lay.outs.index(oname); oi >= 0 {
				out = appendBiasOutcome(out, a, p.segments[a], oname, oi, c)
			}
		}
	}
	return out
}

// biasGroups returns the groups of one segment attribute for one outcome
// (kept groups sorted by name; the overflow group last when it has events),
// as positives of trials.
func biasGroups(s *segment, oi int) []stats.GroupCount {
	names := make([]string, 0, len(s.groups))
	for g := range s.groups {
		names = append(names, g)
	}
	sort.Strings(names)
	gs := make([]stats.GroupCount, 0, len(names)+1)
	for _, g := range names {
		gc := s.groups[g]
		gs = append(gs, stats.GroupCount{Group: g, Positives: float64(gc.positives[oi]), N: float64(gc.trials[oi])})
	}
	if s.other.trials[oi] > 0 {
		gs = append(gs, stats.GroupCount{Group: OtherGroup, Positives: float64(s.other.positives[oi]), N: float64(s.other.trials[oi])})
	}
	return gs
}

func appendBiasOutcome(out []Signal, attr string, s *segment, oname string, oi int, c Config) []Signal {
	all := biasGroups(s, oi)
	var tested []stats.GroupCount
	var trials float64
	for _, g := range all {
		trials += g.N
		if g.Group != OtherGroup && g.N > 0 {
			tested = append(tested, g)
		}
	}
	if trials == 0 {
		return out
	}
	d := decide.Bias(tested, decide.BiasConfig{Alpha: c.Bias.Alpha, MinGroupSize: c.Bias.MinGroupSize})
	res := map[string]stats.GroupDisparity{}
	for _, g := range d.Result.Groups {
		res[g.Group] = g
	}
	var refRate float64
	var refN float64
	for _, g := range d.Result.Groups {
		if g.Reference {
			refRate, refN = g.Rate, g.N
		}
	}
	minAdj := math.NaN()
	for _, g := range all {
		group := attr + "=" + g.Group
		r := row(oname, "bias_rate", math.NaN(), uint64(g.N))
		r.Group = group
		if g.N > 0 {
			r.Value = g.Positives / g.N
			r.Lo, r.Hi = stats.Wilson(g.Positives, g.N, c.Confidence)
		}
		gd, ok := res[g.Group]
		insufficient := !ok || !gd.Sufficient
		r.Details = map[string]any{"positives": g.Positives, "insufficient": insufficient,
			"reference": ok && gd.Reference, "overflow": g.Group == OtherGroup}
		out = append(out, r)
		if insufficient || gd.Reference {
			continue
		}
		t := stats.TwoProportionZTest(g.Positives, g.N, refRate*refN, refN, c.Confidence)
		diff := row(oname, "bias_rate_diff", gd.RateDiff, uint64(g.N))
		diff.Group = group
		diff.Lo, diff.Hi = t.Lo, t.Hi
		diff.PValue, diff.Threshold = ptr(gd.PAdjusted), ptr(c.Bias.Alpha)
		diff.Decision = gd.Significant
		diff.Details = map[string]any{"reference_group": d.Result.Reference, "p_unadjusted": num(gd.P),
			"z": num(gd.Z), "correction": "holm", "comparisons": d.Result.Comparisons}
		ratio := row(oname, "bias_di_ratio", gd.Ratio, uint64(g.N))
		ratio.Group = group
		ratio.Threshold = ptr(0.8)
		ratio.Details = map[string]any{"reference_group": d.Result.Reference, "rule": "four_fifths"}
		out = append(out, diff, ratio)
		if math.IsNaN(minAdj) || gd.PAdjusted < minAdj {
			minAdj = gd.PAdjusted
		}
	}
	sum := row(oname, "bias", d.Result.MinRatio, uint64(trials))
	sum.Group = attr
	sum.Decision = d.Finding
	sum.PValue, sum.Threshold = ptr(minAdj), ptr(c.Bias.Alpha)
	flagged := d.Flagged
	if flagged == nil {
		flagged = []string{}
	}
	sum.Details = map[string]any{"insufficient": !d.Sufficient, "reference_group": d.Result.Reference,
		"comparisons": d.Result.Comparisons, "flagged": flagged, "min_ratio": num(d.Result.MinRatio),
		"min_group_size": c.Bias.MinGroupSize, "correction": "holm"}
	return append(out, sum)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func u2f(u []uint64) []float64 {
	f := make([]float64, len(u))
	for i, v := range u {
		f[i] = float64(v)
	}
	return f
}

func sum(c []float64) float64 {
	var s float64
	for _, v := range c {
		s += v
	}
	return s
}
