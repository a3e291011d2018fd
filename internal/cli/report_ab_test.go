package cli

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sightline-dev/sightline/schemas"
	"github.com/sightline-dev/sightline/schemas/eventpb"
)

// abFile writes windows one-minute windows of events, n per variant and
// window, the treatment b 15% slower.
func abFile(t *testing.T, windows, n int) string {
	t.Helper()
	rng := rand.New(rand.NewPCG(3, 4))
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var b strings.Builder
	for w := 0; w < windows; w++ {
		for i := 0; i < 2*n; i++ {
			variant, lat := "control", 800.0
			if i%2 == 1 {
				variant, lat = "b", 920
			}
			ev := &eventpb.Event{SchemaVersion: 1, EventId: fmt.Sprintf("0190c8e4-5a2b-7c3d-8e4f-%012d", w*100000+i),
				Tenant: "t", App: "a", Model: "m", Variant: variant, DurationMs: lat + 200*rng.NormFloat64(),
				Ts:         timestamppb.New(t0.Add(time.Duration(w)*time.Minute + time.Duration(i)*time.Minute/time.Duration(2*n))),
				Prompt:     []*eventpb.Message{{Role: "user", Content: "where is my order?"}},
				Completion: []*eventpb.Message{{Role: "assistant", Content: "It ships today.", FinishReason: "stop"}}}
			line, err := schemas.MarshalJSON(ev)
			if err != nil {
				t.Fatal(err)
			}
			b.Write(line)
			b.WriteByte('\n')
		}
	}
	path := filepath.Join(t.TempDir(), "ab.jsonl")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// `report ab` runs the sequential experiment over the file's windows: one
// look per window, the latency difference decided, the decision's window
// named; --json carries every look with a p-value that never rises.
func TestReportABSequential(t *testing.T) {
	in := abFile(t, 8, 150)
	out, _, err := run(t, "report", "ab", "--in", in)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, `control "control" (1200 events); 8 windows of 60s; decision default: msprt`) {
		t.Fatalf("header:\n%s", out)
	}
	var msprt string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 3 && f[1] == "latency_ms" && f[2] == "msprt*" {
			msprt = line
		}
	}
	if !strings.Contains(msprt, " yes ") || !strings.Contains(msprt, " 8 ") || !strings.Contains(msprt, "2026-03-01T12:") {
		t.Fatalf("latency mSPRT row (decided, 8 looks, the decision's window):\n%s", out)
	}
	js, _, err := run(t, "report", "ab", "--in", in, "--json", "--looks")
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Looks []struct {
			Window  int64 `json:"window_start"`
			Signals []struct {
				Name     string  `json:"name"`
				P        float64 `json:"p_value"`
				Decision bool    `json:"decision"`
			} `json:"signals"`
		} `json:"looks"`
	}
	if err := json.Unmarshal([]byte(js), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Looks) != 8 {
		t.Fatalf("%d looks, want 8", len(res.Looks))
	}
	prev, decided := 1.0, false
	for _, l := range res.Looks {
		for _, s := range l.Signals {
			if s.Name != "latency_ms" {
				continue
			}
			if s.P > prev || (decided && !s.Decision) {
				t.Fatalf("look at %d: p %v after %v, decision %v after %v", l.Window, s.P, prev, s.Decision, decided)
			}
			prev, decided = s.P, s.Decision
		}
	}
	if _, _, err := run(t, "report", "ab", "--in", in, "--window", "1500ms"); err == nil || !strings.Contains(err.Error(), "--window") {
		t.Fatalf("a window of 1.5 s accepted: %v", err)
	}
}
