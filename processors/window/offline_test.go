package window

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/sightline-dev/sightline/processors/detectors"
	"github.com/sightline-dev/sightline/schemas"
	"github.com/sightline-dev/sightline/schemas/eventpb"
)

// jsonl renders generated events as JSON lines, extra fields added.
func jsonl(t *testing.T, g *gen, n int, extra func(i int, m map[string]any)) string {
	t.Helper()
	var b strings.Builder
	for i := 0; i < n; i++ {
		ev, _ := g.next()
		raw, err := schemas.MarshalJSON(ev)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		if extra != nil {
			extra(i, m)
		}
		line, _ := json.Marshal(m)
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.String()
}

// toxicScore marks events whose completion says "toxic" (a stand-in scorer).
func toxicScore(ev *eventpb.Event, out *detectors.Scores) {
	*out = detectors.NewScores(testSchema)
	v := 0.1
	for _, m := range ev.GetCompletion() {
		if strings.Contains(m.GetContent(), "toxic") {
			v = 0.9
		}
	}
	out.Set("completion_toxicity", v)
}

func TestDriftReport(t *testing.T) {
	cfg := DefaultConfig()
	rng := rand.New(rand.NewPCG(1, 1))
	col := func(mean float64) func(int, map[string]any) {
		return func(_ int, m map[string]any) { m["queue_ms"] = mean + 10*rng.NormFloat64() }
	}
	ref, err := LoadJSONL(strings.NewReader(jsonl(t, newGen(1), 1000, col(100))+"garbage\n"), cfg, nil, LoadOptions{Columns: true})
	if err != nil || ref.Malformed != 1 || ref.Events != 1000 {
		t.Fatalf("load: %+v %v", ref, err)
	}
	g := newGen(2)
	g.latMu += 0.4
	cur, _ := LoadJSONL(strings.NewReader(jsonl(t, g, 1000, col(110))), cfg, nil, LoadOptions{Columns: true})
	rows := DriftReport(ref, cur, cfg)
	got := map[string]Signal{}
	for _, r := range rows {
		got[r.Name] = r
	}
	if r := got["duration_ms"]; !r.Decision || r.Details["source"] != "column" {
		t.Errorf("duration_ms column: %+v", r)
	}
	if r := got["queue_ms"]; !r.Decision {
		t.Errorf("plain column queue_ms shifted by 1 SD not flagged: %+v", r)
	}
	if _, ok := got["latency_ms"]; ok {
		t.Error("latency_ms duplicates the duration_ms column")
	}
	if r, ok := got["input_tokens"]; !ok || r.Decision {
		t.Errorf("input_tokens: %+v", r)
	}
	if _, err := json.Marshal(rows); err != nil {
		t.Fatal(err)
	}
}

func TestBiasAndABReports(t *testing.T) {
	cfg := DefaultConfig()
	rng := rand.New(rand.NewPCG(2, 2))
	in := jsonl(t, newGen(3), 4000, func(i int, m map[string]any) {
		loc := []string{"en", "de"}[i%2]
		m["locale"] = loc // a plain top-level field, kept in attributes
		rate := map[string]float64{"en": 0.10, "de": 0.20}[loc]
		if rng.Float64() < rate {
			m["completion"] = []map[string]string{{"role": "assistant", "content": "toxic"}}
		}
		m["variant"] = []string{"control", "b"}[i%2]
	})
	d, err := LoadJSONL(strings.NewReader(in), cfg, toxicScore, LoadOptions{Segment: "locale"})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := BiasReport(d, "locale", "toxicity", cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := find(rows, "toxicity", "bias", "locale"); !ok || !s.Decision {
		t.Fatalf("bias report: %+v", rows)
	}
	if _, err := BiasReport(d, "locale", "nope", cfg); err == nil {
		t.Fatal("unknown outcome accepted")
	}
	d, _ = LoadJSONL(strings.NewReader(in), cfg, toxicScore, LoadOptions{Split: VariantOf})
	ctl, ab, err := ABReport(d, "", cfg)
	if err != nil || ctl != "control" {
		t.Fatalf("ab: %v %q", err, ctl)
	}
	if s, ok := find(ab, "toxicity", "ab_msprt", "b"); !ok || !s.Decision || math.Abs(s.Value-0.10) > 0.03 {
		t.Fatalf("ab toxicity: %+v", s)
	}
	if _, _, err := ABReport(d, "missing", cfg); err == nil {
		t.Fatal("missing control accepted")
	}
	if v := VariantOf(&eventpb.Event{PromptTemplate: &eventpb.PromptTemplate{Id: "greet", Version: "3"}}); v != "greet@3" {
		t.Fatal(v)
	}
}
