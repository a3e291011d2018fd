package window

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/sightline-dev/sightline/schemas/eventpb"
)

func TestDrift(t *testing.T) {
	cfg := DefaultConfig()
	base := fill(NewPartial(testKey, 0, 60, cfg), newGen(11), 2000)
	same := fill(NewPartial(testKey, 60, 60, cfg), newGen(12), 2000)
	g := newGen(13)
	g.latMu += 0.3 // latency ×1.35 (0.6 SD of log latency)
	shifted := fill(NewPartial(testKey, 60, 60, cfg), g, 2000)

	sig := Signals(same, base, "rolling:5", cfg)
	for _, s := range sig {
		if s.Metric == "drift" && s.Decision {
			t.Errorf("unshifted stream: %s flagged drifted: %v", s.Name, s.Details)
		}
	}
	d, ok := find(sig, "latency_ms", "drift", "")
	if !ok || d.Details["insufficient"] != false || d.Baseline != "rolling:5" {
		t.Fatalf("latency drift row: %+v", d)
	}
	sig = Signals(shifted, base, "rolling:5", cfg)
	d, _ = find(sig, "latency_ms", "drift", "")
	if !d.Decision {
		t.Fatalf("shifted latency not flagged: %+v", d.Details)
	}
	for _, m := range []string{"drift_psi", "drift_js", "drift_ks", "drift_wasserstein"} {
		if _, ok := find(sig, "latency_ms", m, ""); !ok {
			t.Errorf("missing latency_ms/%s", m)
		}
	}
	if s, _ := find(sig, "prompt_toxicity", "drift", ""); s.Decision {
		t.Errorf("prompt toxicity did not change but drifted: %v", s.Details)
	}
	for _, name := range []string{"finish_reason", "prompt_script", "prompt_topic"} {
		if s, ok := find(sig, name, "drift", ""); !ok || s.Decision {
			t.Errorf("categorical %s: %+v", name, s)
		}
	}
	if _, ok := find(sig, "finish_reason", "drift_chi2", ""); !ok {
		t.Error("missing finish_reason/drift_chi2")
	}

	// Text drift: other prompts.
	g = newGen(14)
	g.topics = []string{"translate this poem into french please", "write a sql query joining orders and users"}
	topics := fill(NewPartial(testKey, 60, 60, cfg), g, 2000)
	sig = Signals(topics, base, "rolling:5", cfg)
	if s, ok := find(sig, "prompt_text", "drift", ""); !ok || !s.Decision {
		t.Errorf("prompt text change not flagged: %+v", s)
	}
	if s, ok := find(sig, "prompt_text", "drift_centroid", ""); !ok || !(s.Value > 0.1) {
		t.Errorf("centroid distance %+v", s)
	}

	// Too few events: insufficient, never drifted.
	small := fill(NewPartial(testKey, 60, 60, cfg), newGen(15), 20)
	sig = Signals(small, base, "rolling:5", cfg)
	if s, _ := find(sig, "latency_ms", "drift", ""); s.Decision || s.Details["insufficient"] != true {
		t.Errorf("20 events: %+v", s)
	}
	if _, err := json.Marshal(sig); err != nil {
		t.Fatalf("signals must marshal to JSON: %v", err)
	}
}

func TestBias(t *testing.T) {
	cfg := DefaultConfig()
	g := newGen(21)
	g.groupRates = map[string]float64{"en": 0.20, "de": 0.25}
	g.groups = []string{"en", "de", "tiny"}
	p := NewPartial(testKey, 0, 60, cfg)
	for p.Count() < 4000 {
		ev, s := g.next()
		if ev.Segments["user.locale"] == "tiny" && g.seq > 60 {
			continue // keep "tiny" below the minimum group size
		}
		p.Add(ev, nil, s)
	}
	sig := Signals(p, nil, "", cfg)
	sum, ok := find(sig, "toxicity", "bias", "user.locale")
	if !ok || !sum.Decision {
		t.Fatalf("5-point disparity over 2,000 per group not flagged: %+v", sum)
	}
	diff, ok := find(sig, "toxicity", "bias_rate_diff", "user.locale=de")
	if !ok { // en is the reference unless de is larger
		diff, ok = find(sig, "toxicity", "bias_rate_diff", "user.locale=en")
	}
	if !ok || math.Abs(math.Abs(diff.Value)-0.05) > 0.03 || !diff.Decision || diff.PValue == nil {
		t.Fatalf("de rate diff %+v", diff)
	}
	if r, ok := find(sig, "toxicity", "bias_di_ratio", diff.Group); !ok || math.Abs(r.Value-1) < 0.1 {
		t.Fatalf("di ratio %+v", r)
	}
	tiny, ok := find(sig, "toxicity", "bias_rate", "user.locale=tiny")
	if !ok || tiny.Decision || tiny.Details["insufficient"] != true {
		t.Fatalf("tiny group must be insufficient: %+v", tiny)
	}
	if _, ok := find(sig, "toxicity", "bias_rate_diff", "user.locale=tiny"); ok {
		t.Fatal("insufficient group tested")
	}

	// Parity: no finding.
	g = newGen(22)
	g.groupRates = map[string]float64{"en": 0.20, "de": 0.20}
	p = fill(NewPartial(testKey, 0, 60, cfg), g, 4000)
	if s, _ := find(Signals(p, nil, "", cfg), "toxicity", "bias", "user.locale"); s.Decision {
		t.Fatalf("parity flagged: %+v", s)
	}
	// Only one sufficient group: insufficient, no finding.
	g = newGen(23)
	g.groups = []string{"en"}
	p = fill(NewPartial(testKey, 0, 60, cfg), g, 500)
	p.Add(&eventpb.Event{EventId: "x", Segments: map[string]string{"user.locale": "de"}}, nil, nil)
	if s, ok := find(Signals(p, nil, "", cfg), "error", "bias", "user.locale"); !ok || s.Decision || s.Details["insufficient"] != true {
		t.Fatalf("one group: %+v", s)
	}
}

func TestCompare(t *testing.T) {
	cfg := DefaultConfig()
	mk := func(variant string, seed uint64, tox, latMu float64) *Partial {
		g := newGen(seed)
		g.toxRate, g.latMu = tox, latMu
		k := testKey
		k.Variant = variant
		return fill(NewPartial(k, 0, 3600, cfg), g, 4000)
	}
	control := mk("control", 31, 0.10, math.Log(800))
	treat := mk("b", 32, 0.14, math.Log(1100))
	same := mk("a2", 33, 0.10, math.Log(800))

	sig := Compare(control, treat, cfg)
	for _, m := range []string{"ab_diff", "ab_msprt"} {
		s, ok := find(sig, "toxicity", m, "b")
		if !ok || !s.Decision {
			t.Errorf("toxicity +4 points, %s: %+v", m, s)
		}
	}
	if s, _ := find(sig, "toxicity", "ab_diff", "b"); !(s.Lo > 0 && s.Lo < s.Value && s.Value < s.Hi && math.Abs(s.Value-0.04) < 0.03) {
		t.Errorf("difference %v [%v, %v], want about 0.04 and excluding 0", s.Value, s.Lo, s.Hi)
	}
	for _, m := range []string{"ab_welch", "ab_msprt", "ab_mannwhitney"} {
		if s, ok := find(sig, "latency_ms", m, "b"); !ok || !s.Decision {
			t.Errorf("latency ×1.375, %s: %+v", m, s)
		}
	}
	if s, _ := find(sig, "toxicity", "ab_msprt", "b"); s.Details["default"] != true || s.Details["decision_test"] != "msprt" {
		t.Errorf("mSPRT must be the default decision: %v", s.Details)
	}
	for _, s := range Compare(control, same, cfg) {
		if s.Decision && (s.Metric == "ab_msprt") {
			t.Errorf("A/A flagged by the default test: %s/%s %+v", s.Name, s.Metric, s)
		}
	}
	if _, err := json.Marshal(sig); err != nil {
		t.Fatal(err)
	}
}

func TestConfigValidate(t *testing.T) {
	c := DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		mut  func(*Config)
		want string
	}{
		{func(c *Config) { c.MovedToxicityThreshold = 0.7 }, "detectors.toxicity.threshold"},
		{func(c *Config) { c.Outcomes = append(c.Outcomes, Outcome{Name: "error"}) }, "counted twice"},
		{func(c *Config) { c.SampleSize = 1 }, "window.sample_size"},
		{func(c *Config) { c.MaxGroups = 0 }, "window.max_groups"},
		{func(c *Config) { c.Drift.Alpha = 1 }, "window.drift.alpha"},
		{func(c *Config) { c.Bias.Outcomes = []string{"nope"} }, "window.bias.outcomes"},
		{func(c *Config) { c.AB.Decision = "bayes" }, "window.ab.decision"},
		{func(c *Config) { c.Drift.Permutations = 100 }, "window.drift.permutations"},
		{func(c *Config) { c.Edges = map[string][]float64{"latency_ms": {1, 1}} }, "window.edges.latency_ms"},
		{func(c *Config) { c.Edges = map[string][]float64{"nope": {1, 2}} }, "window.edges.nope"},
	}
	for _, tc := range cases {
		c := DefaultConfig()
		tc.mut(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want error naming %s, got %v", tc.want, err)
		}
	}
}
