package aggregate

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sightline-dev/sightline/processors/detectors"
	"github.com/sightline-dev/sightline/processors/detectors/registry"
	"github.com/sightline-dev/sightline/processors/eventfeatures"
	"github.com/sightline-dev/sightline/processors/window"
	"github.com/sightline-dev/sightline/schemas/eventpb"
)

func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestMemoryAt10kKeys measures the aggregate stage's memory with 10,000
// keys, each with an open one-minute window and its hourly rollup (the
// stage's steady state), and checks the key cap: keys beyond MaxKeys fold
// into the overflow key without growing memory.
func TestMemoryAt10kKeys(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates about a gigabyte")
	}
	cfg := Config{Brokers: []string{"127.0.0.1:1"}, MaxKeys: 10000, WindowConfig: window.DefaultConfig()}
	s, err := New(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.kcl.Close()
	wc := window.DefaultConfig()
	start := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	// One encoded partial of 20 realistic events, re-keyed per key.
	schema, err := registry.Schema(nil)
	if err != nil {
		t.Fatal(err)
	}
	proto := window.NewPartial(window.Key{}, start.Unix(), 60, wc)
	for i := 0; i < 20; i++ {
		ttft := 120.0
		ev := &eventpb.Event{EventId: fmt.Sprintf("0190c8e4-5a2b-7c3d-8e4f-%012d", i), Ts: timestamppb.New(start.Add(time.Duration(i) * time.Second)),
			DurationMs: 500 + float64(i*37%400), TtftMs: &ttft, InputTokens: 300, OutputTokens: 120, CostUsd: 0.001,
			Prompt:     []*eventpb.Message{{Role: "user", Content: fmt.Sprintf("question number %d about orders and refunds", i)}},
			Completion: []*eventpb.Message{{Role: "assistant", Content: "answer", FinishReason: "stop"}},
			Segments:   map[string]string{"user.locale": []string{"en-US", "de-DE", "fr-FR"}[i%3]}}
		f := eventfeatures.Compute(ev)
		sc := detectors.NewScores(schema)
		sc.Set("completion_toxicity", 0.1)
		sc.Set("prompt_injection", 0.05)
		proto.Add(ev, &f, &sc)
	}
	before := heap()
	rec := &kgo.Record{}
	for i := 0; i < 10000; i++ {
		p := proto.Clone()
		p.Key = window.Key{Tenant: "t", App: fmt.Sprintf("app-%d", i/100), Model: fmt.Sprintf("model-%d", i%100), Variant: "control"}
		b, err := p.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		rec.Value, rec.Offset = b, int64(i)
		s.ingest(rec)
	}
	after := heap()
	if len(s.keys) != 10000 || len(s.open) != 20000 {
		t.Fatalf("tracked %d keys and %d open windows", len(s.keys), len(s.open))
	}
	perKey := float64(after-before) / 10000
	t.Logf("10,000 keys with a 1-minute window and an hourly rollup open: %.0f MB heap, %.1f KB per key", float64(after-before)/1e6, perKey/1e3)

	// 5,000 more keys fold into the overflow key.
	for i := 0; i < 5000; i++ {
		p := proto.Clone()
		p.Key = window.Key{Tenant: "t", App: "extra", Model: fmt.Sprint(i)}
		b, _ := p.MarshalBinary()
		rec.Value, rec.Offset = b, int64(10000+i)
		s.ingest(rec)
	}
	over := heap()
	t.Logf("after 5,000 keys beyond the cap: %.0f MB heap (overflow key holds %d events)", float64(over-before)/1e6,
		s.open[winID{OverflowKey, 60, start.Unix()}].p.Count())
	if float64(over-before) > 1.05*float64(after-before) {
		t.Fatalf("memory grew past the key cap: %d -> %d bytes", after-before, over-before)
	}
}
