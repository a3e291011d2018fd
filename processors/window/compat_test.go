package window

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"testing"
)

// TestDecodesPreviousLayout reads a window partial and a baseline written
// by the first layout (encoding version 1: six outcomes, thresholds as
// fixed params, segment group counts by position) and checks that they
// give the signals that layout's code computed from them
// (testdata/partial_v1_signals.json). The .bin files are never rewritten:
// they stand for what Kafka and llm_windows/llm_baselines hold after an
// upgrade.
func TestDecodesPreviousLayout(t *testing.T) {
	read := func(name string) *Partial {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		var p Partial
		if err := p.UnmarshalBinary(b); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return &p
	}
	cur, base := read("partial_v1.bin"), read("baseline_v1.bin")
	got, err := json.MarshalIndent(Signals(cur, base, "previous_hour", DefaultConfig()), "", " ")
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("testdata/partial_v1_signals.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		_ = os.WriteFile(t.TempDir()+"/got.json", got, 0o644)
		t.Fatalf("signals of the version-1 partial differ from what version 1 computed:\n%s", firstDiff(got, want))
	}
	// A merge with a partial of the current layout works.
	if err := cur.Merge(base); err != nil {
		t.Fatalf("cannot merge a version-1 baseline into a version-1 partial: %v", err)
	}
	now := NewPartial(cur.Key, cur.WindowStart, cur.WindowSeconds, DefaultConfig())
	if err := now.Merge(cur); err != nil {
		t.Fatalf("cannot merge a version-1 partial into a current one: %v", err)
	}
}

// firstDiff shows the lines around the first difference.
func firstDiff(got, want []byte) string {
	g, w := bytes.Split(got, []byte("\n")), bytes.Split(want, []byte("\n"))
	for i := 0; i < len(g) && i < len(w); i++ {
		if !bytes.Equal(g[i], w[i]) {
			lo := max(0, i-8)
			return "got:\n" + string(bytes.Join(g[lo:min(len(g), i+3)], []byte("\n"))) + "\nwant:\n" + string(bytes.Join(w[lo:min(len(w), i+3)], []byte("\n")))
		}
	}
	return "lengths differ"
}

// Partials whose outcome lists differ (written before and after a detector
// was added) merge into the union; an outcome decided by different
// thresholds does not merge.
func TestMergeAcrossOutcomeLists(t *testing.T) {
	cfg := DefaultConfig()
	more := DefaultConfig()
	more.Outcomes = append([]Outcome{{Name: "jailbreak", Threshold: 0.5}}, cfg.Outcomes...)
	a := fill(NewPartial(testKey, 0, 60, cfg), newGen(1), 300)
	b := fill(NewPartial(testKey, 0, 60, more), newGen(2), 300)
	rate := func(p *Partial, name string) (uint64, uint64) {
		i := p.lay.outs.index(name)
		if i < 0 {
			return 0, 0
		}
		return p.outcomes[i].positives, p.outcomes[i].trials
	}
	ap, at := rate(a, "toxicity")
	bp, bt := rate(b, "toxicity")
	for _, order := range [][2]*Partial{{a.Clone(), b}, {b.Clone(), a}} {
		m := order[0]
		if err := m.Merge(order[1]); err != nil {
			t.Fatal(err)
		}
		if p, n := rate(m, "toxicity"); p != ap+bp || n != at+bt || m.lay.outs.index("jailbreak") < 0 {
			t.Fatalf("merged toxicity %d of %d, want %d of %d; outcomes %v", p, n, ap+bp, at+bt, m.lay.outs.names)
		}
		// Segment groups follow the union too.
		var gp uint64
		for _, g := range m.segments["user.locale"].groups {
			gp += g.positives[m.lay.outs.index("toxicity")]
		}
		if gp != ap+bp {
			t.Fatalf("segment groups count %d toxic events, want %d", gp, ap+bp)
		}
		enc, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var back Partial
		if err := back.UnmarshalBinary(enc); err != nil {
			t.Fatal(err)
		}
		if p, n := rate(&back, "toxicity"); p != ap+bp || n != at+bt {
			t.Fatalf("after a round trip: %d of %d", p, n)
		}
	}
	other := DefaultConfig()
	other.Outcomes = slices.Clone(cfg.Outcomes)
	other.Outcomes[0].Threshold = 0.7
	if err := a.Clone().Merge(NewPartial(testKey, 0, 60, other)); !errors.Is(err, ErrLayoutMismatch) {
		t.Fatalf("toxicity at 0.5 merged with toxicity at 0.7: %v", err)
	}
}
