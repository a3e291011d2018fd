package window

import (
	"bytes"
	"encoding/json"
	"os"
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
