package console

import (
	"math"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sightline-dev/sightline/processors/detectors"
	"github.com/sightline-dev/sightline/processors/eventfeatures"
	"github.com/sightline-dev/sightline/processors/window"
	"github.com/sightline-dev/sightline/schemas/eventpb"
)

// A partial's histograms come back with every event counted once, under
// the feature's edges, and categorical features by name.
func TestFeatureDistribution(t *testing.T) {
	p := window.NewPartial(window.Key{App: "a"}, 0, 60, window.DefaultConfig())
	for i := 0; i < 200; i++ {
		ev := &eventpb.Event{EventId: "e" + string(rune('a'+i%26)) + string(rune('a'+i/26)), App: "a", Model: "m",
			Ts: timestamppb.New(time.Unix(10, 0)), DurationMs: float64(100 + 10*i),
			Completion: []*eventpb.Message{{Role: "assistant", Content: "ok", FinishReason: []string{"stop", "length"}[i%2]}}}
		p.Add(ev, ptr(eventfeatures.Compute(ev)), &detectors.Scores{})
	}
	d, err := featureDistribution(p, "latency_ms")
	if err != nil {
		t.Fatal(err)
	}
	if d.Total != 200 || len(d.Labels) != len(window.DefaultEdges("latency_ms"))+1 {
		t.Fatalf("latency histogram: total %v over %d bins", d.Total, len(d.Labels))
	}
	fr, _ := featureDistribution(p, "finish_reason")
	if fr.Total != 200 || !slices.Contains(fr.Labels, "stop") || !slices.Contains(fr.Labels, "length") {
		t.Fatalf("finish reasons %+v", fr)
	}
	bars := compareBars(d, d, true)
	sum := 0.0
	for _, b := range bars {
		sum += b.Cur
		if b.Base != b.Cur {
			t.Fatalf("same distribution compared unequal: %+v", b)
		}
	}
	if math.Abs(sum-1) > 1e-9 || len(bars) >= len(d.Labels) {
		t.Fatalf("bars sum to %v over %d bins (empty ends not trimmed?)", sum, len(bars))
	}
}

func ptr[T any](v T) *T { return &v }
