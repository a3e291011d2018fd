package window

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"

	"github.com/sightline-dev/sightline/processors/detectors"
	"github.com/sightline-dev/sightline/processors/stats/decide"
	"github.com/sightline-dev/sightline/schemas"
	"github.com/sightline-dev/sightline/schemas/eventpb"
)

// ScoreFunc scores one event; the offline reports take the stream's scorer
// (processors/detectors/runner over processors/detectors/registry) so their
// scores are the stream's.
type ScoreFunc func(ev *eventpb.Event, out *detectors.Scores)

// LoadOptions selects what LoadJSONL keeps.
type LoadOptions struct {
	// Segment keeps only this segment attribute, taken from the event's
	// attributes (unknown top-level fields land there) when it is not among
	// its segments. Empty keeps the segments as they are.
	Segment string
	// Split puts each event into the partial of the name it returns; nil
	// puts every event into one partial named "".
	Split func(ev *eventpb.Event) string
	// Columns collects every numeric top-level field of the JSON lines (for
	// plain columns such as {"latency_ms": 812}).
	Columns bool
}

// Dataset is a file of events aggregated exactly as the stream would.
type Dataset struct {
	Partials  map[string]*Partial
	Columns   map[string][]float64
	Lines     int
	Events    int
	Malformed int
}

// LoadJSONL reads events in their JSON form, one per line
// (schemas.ParseJSON), scores them with score (nil: unscored), computes
// their features and adds them to partials (Key.Variant = the Split name).
// Malformed lines are counted and skipped; blank lines ignored.
func LoadJSONL(r io.Reader, cfg Config, score ScoreFunc, opt LoadOptions) (*Dataset, error) {
	d := &Dataset{Partials: map[string]*Partial{}, Columns: map[string][]float64{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), schemas.MaxEncodedBytes+1)
	var s detectors.Scores
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		d.Lines++
		ev, err := schemas.ParseJSON(line)
		if err != nil {
			d.Malformed++
			continue
		}
		if opt.Columns {
			var raw map[string]json.RawMessage
			if json.Unmarshal(line, &raw) == nil {
				for k, v := range raw {
					var f float64
					if len(v) > 0 && (v[0] == '-' || (v[0] >= '0' && v[0] <= '9')) && json.Unmarshal(v, &f) == nil {
						d.Columns[k] = append(d.Columns[k], f)
					}
				}
			}
		}
		if opt.Segment != "" {
			v, ok := ev.GetSegments()[opt.Segment]
			if !ok {
				v, ok = ev.GetAttributes()[opt.Segment]
			}
			ev.Segments = nil
			if ok {
				ev.Segments = map[string]string{opt.Segment: v}
			}
		}
		name := ""
		if opt.Split != nil {
			name = opt.Split(ev)
		}
		p := d.Partials[name]
		if p == nil {
			p = NewPartial(Key{Variant: name}, 0, 0, cfg)
			d.Partials[name] = p
		}
		var sp *detectors.Scores
		if score != nil {
			score(ev, &s)
			sp = &s
		}
		p.Add(ev, nil, sp)
		d.Events++
	}
	if err := sc.Err(); err != nil {
		return d, fmt.Errorf("cannot read events: %w", err)
	}
	return d, nil
}

// Partial returns the dataset's partial of name, nil if none.
func (d *Dataset) Partial(name string) *Partial { return d.Partials[name] }

// VariantOf is the A/B group of an event: its variant, else its prompt
// template ("id@version"), else "(none)".
func VariantOf(ev *eventpb.Event) string {
	if v := ev.GetVariant(); v != "" {
		return v
	}
	if t := ev.GetPromptTemplate(); t != nil && (t.GetId() != "" || t.GetVersion() != "") {
		return t.GetId() + "@" + t.GetVersion()
	}
	return "(none)"
}

// columnOf maps numeric features to the event field they come from: when
// the field is present as a column, the exact column test replaces the
// binned one.
var columnOf = map[string]string{
	"latency_ms": "duration_ms", "ttft_ms": "ttft_ms", "input_tokens": "input_tokens",
	"output_tokens": "output_tokens", "cost_usd": "cost_usd",
}

// DriftReport compares a current dataset with a reference one, per
// feature: the "drift" rows of Signals (numeric features binned as in the
// stream, categorical features, prompt text), and for every numeric
// top-level column present in both files a row from the raw values
// (decide.NumericSamples: exact KS where affordable, Wasserstein over the
// values, PSI and JS over ten reference-decile bins), Details["source"] =
// "column". Features with no data, or the same constant on both sides, are
// left out (so are categorical features with one and the same category on
// both sides). The per-test level is the stream's (window.drift.alpha split
// over the features).
func DriftReport(ref, cur *Dataset, cfg Config) []Signal {
	c := cfg.withDefaults()
	var out []Signal
	rp, cp := ref.Partial(""), cur.Partial("")
	if rp != nil && cp != nil {
		for _, s := range Signals(cp, rp, "reference", c) {
			if s.Metric != "drift" {
				continue
			}
			if col, ok := columnOf[s.Name]; ok && len(ref.Columns[col]) > 0 && len(cur.Columns[col]) > 0 {
				continue
			}
			if i := numericIndex(s.Name); i >= 0 && constantBoth(rp, cp, i) {
				continue
			}
			if s.Details["test"] == "chi2" && s.Details["insufficient"] == false && s.Details["chi2"] == nil {
				continue // one and the same category on both sides
			}
			s.Details["source"] = "events"
			out = append(out, s)
		}
	}
	var cols []string
	for k := range cur.Columns {
		if len(ref.Columns[k]) > 0 {
			cols = append(cols, k)
		}
	}
	sort.Strings(cols)
	dc := c.decideConfig()
	for _, k := range cols {
		r, v := ref.Columns[k], cur.Columns[k]
		if constant(r) && constant(v) && r[0] == v[0] {
			continue
		}
		d := decide.NumericSamples(r, v, dc)
		s := row(k, "drift", b2f(d.Drifted), uint64(len(v)))
		s.Baseline = "reference"
		s.Decision = d.Drifted
		s.Threshold = ptr(d.Alpha)
		if d.Sufficient {
			s.PValue = ptr(d.KS.P)
		}
		s.Details = driftDetails(d, dc)
		s.Details["source"], s.Details["test"], s.Details["ks_exact"] = "column", "ks_samples", d.KS.Exact
		s.Details["baseline_n"] = len(r)
		out = append(out, s)
	}
	return out
}

func constant(v []float64) bool {
	for _, x := range v[1:] {
		if x != v[0] {
			return false
		}
	}
	return len(v) > 0
}

func constantBoth(a, b *Partial, i int) bool {
	res := numericDefs[i].resolution
	ma, mb := a.moments[i].moments(res), b.moments[i].moments(res)
	return ma.M2 == 0 && mb.M2 == 0 && ma.Mean == mb.Mean
}

// BiasReport returns the bias rows (bias_rate, bias_rate_diff,
// bias_di_ratio, bias) of one segment attribute, for one outcome or, with
// outcome "", every outcome with data.
func BiasReport(d *Dataset, attribute, outcome string, cfg Config) ([]Signal, error) {
	if outcome != "" && !slices.Contains(cfg.OutcomeNames(), outcome) {
		return nil, fmt.Errorf("unknown outcome %q (known: %v)", outcome, cfg.OutcomeNames())
	}
	p := d.Partial("")
	if p == nil {
		return nil, nil
	}
	c := cfg.withDefaults()
	if outcome != "" {
		c.Bias.Outcomes = []string{outcome}
	}
	var out []Signal
	for _, s := range appendBias(nil, p, c) {
		if s.Group == attribute || (len(s.Group) > len(attribute) && s.Group[:len(attribute)+1] == attribute+"=") {
			out = append(out, s)
		}
	}
	return out, nil
}

// ABReport compares every other group of d with the control group (the
// Split names; control "" picks "control" when present, else the largest
// group) and returns the control used and the Compare rows.
func ABReport(d *Dataset, control string, cfg Config) (string, []Signal, error) {
	names := make([]string, 0, len(d.Partials))
	for n := range d.Partials {
		names = append(names, n)
	}
	sort.Strings(names)
	if control == "" {
		if _, ok := d.Partials["control"]; ok {
			control = "control"
		} else {
			var best uint64
			for _, n := range names {
				if c := d.Partials[n].Count(); c > best {
					control, best = n, c
				}
			}
		}
	}
	cp := d.Partials[control]
	if cp == nil {
		return control, nil, fmt.Errorf("control group %q not found (groups: %v)", control, names)
	}
	var out []Signal
	for _, n := range names {
		if n != control {
			out = append(out, Compare(cp, d.Partials[n], cfg)...)
		}
	}
	return control, out, nil
}
