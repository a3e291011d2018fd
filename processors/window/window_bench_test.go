package window

import (
	"math"
	"runtime"
	"testing"

	"github.com/sightline-dev/sightline/processors/detectors"
	"github.com/sightline-dev/sightline/processors/eventfeatures"
	"github.com/sightline-dev/sightline/schemas/eventpb"
)

type scored struct {
	ev *eventpb.Event
	f  eventfeatures.Features
	s  *detectors.Scores
}

func scoredEvents(n int, seed uint64) []scored {
	g := newGen(seed)
	out := make([]scored, n)
	for i := range out {
		ev, s := g.next()
		out[i] = scored{ev, eventfeatures.Compute(ev), s}
	}
	return out
}

// BenchmarkPartialAdd is the score stage's per-event cost: one scored event
// (two prompt messages, one segment attribute) into a window partial.
func BenchmarkPartialAdd(b *testing.B) {
	evs := scoredEvents(4096, 1)
	p := NewPartial(testKey, 0, 60, DefaultConfig())
	for i := range evs { // warm: groups, sketches and samples allocated
		p.Add(evs[i].ev, &evs[i].f, evs[i].s)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		e := &evs[i%len(evs)]
		p.Add(e.ev, &e.f, e.s)
		i++
	}
}

func fullPartials(n int) []*Partial {
	ps := make([]*Partial, n)
	for i := range ps {
		ps[i] = fill(NewPartial(testKey, 0, 60, DefaultConfig()), newGen(uint64(i+1)), 2000)
	}
	return ps
}

// BenchmarkMerge merges one full partial (2,000 events, samples full) into
// another, as the aggregate stage does per partial received.
func BenchmarkMerge(b *testing.B) {
	ps := fullPartials(2)
	b.ReportAllocs()
	for b.Loop() {
		acc := ps[0].Clone()
		if err := acc.Merge(ps[1]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMergeOnly excludes the clone: merge into a running aggregate.
func BenchmarkMergeOnly(b *testing.B) {
	ps := fullPartials(2)
	acc := ps[0]
	b.ReportAllocs()
	for b.Loop() {
		if err := acc.Merge(ps[1]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarshalBinary(b *testing.B) {
	p := fullPartials(1)[0]
	enc, _ := p.MarshalBinary()
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.MarshalBinary(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnmarshalBinary(b *testing.B) {
	enc, _ := fullPartials(1)[0].MarshalBinary()
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		var p Partial
		if err := p.UnmarshalBinary(enc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSignals is the per-window signal computation of one key with a
// baseline: rates, quantiles, drift of 18 features plus the prompt-text MMD
// permutation test (up to 300 permutations over 64+64 vectors; the text
// has not drifted here, so the test stops once it can no longer flag),
// bias over one segment attribute.
func BenchmarkSignals(b *testing.B) {
	ps := fullPartials(2)
	cfg := DefaultConfig()
	b.ReportAllocs()
	for b.Loop() {
		Signals(ps[1], ps[0], "rolling:60", cfg)
	}
}

// BenchmarkSignalsTextDrift is BenchmarkSignals for a key whose prompts
// changed topic: the MMD test flags it and so makes all its shuffles.
func BenchmarkSignalsTextDrift(b *testing.B) {
	base := fill(NewPartial(testKey, 0, 60, DefaultConfig()), newGen(1), 2000)
	g := newGen(2)
	g.topics = []string{"cancel my subscription and delete the account", "the invoice shows a wrong billing address"}
	cur := fill(NewPartial(testKey, 60, 60, DefaultConfig()), g, 2000)
	cfg := DefaultConfig()
	var flagged bool
	for _, s := range Signals(cur, base, "rolling:60", cfg) {
		if s.Metric == "drift_mmd" {
			flagged = s.Decision
		}
	}
	if !flagged {
		b.Fatal("the topic change is not flagged: the benchmark would not measure the full test")
	}
	b.ReportAllocs()
	for b.Loop() {
		Signals(cur, base, "rolling:60", cfg)
	}
}

// BenchmarkSignalsNoBaseline: rates, quantiles and bias only.
func BenchmarkSignalsNoBaseline(b *testing.B) {
	p := fullPartials(1)[0]
	cfg := DefaultConfig()
	b.ReportAllocs()
	for b.Loop() {
		Signals(p, nil, "", cfg)
	}
}

func BenchmarkCompare(b *testing.B) {
	ps := fullPartials(2)
	ps[1].Key.Variant = "b"
	cfg := DefaultConfig()
	b.ReportAllocs()
	for b.Loop() {
		Compare(ps[0], ps[1], cfg)
	}
}

// TestMemory10kKeys measures the aggregate stage's partial memory at 10,000
// keys: each key holds a window partial decoded from the partials topic and
// merged with a second one, as the aggregate stage does. Two profiles: busy
// keys (2,000 events per window: samples full, wide sketches) and quiet
// keys (10 events). It logs bytes per key from SizeBytes and from
// runtime.MemStats. Run: go test -run Memory10k -v ./processors/window/
func TestMemory10kKeys(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates several hundred MB")
	}
	const keys = 10000
	for _, prof := range []struct {
		name   string
		events int
	}{{"busy (2,000 events/window)", 2000}, {"quiet (10 events/window)", 10}} {
		var encs [2][]byte
		for i := range encs {
			p := fill(NewPartial(testKey, 0, 60, DefaultConfig()), newGen(uint64(i+1)), prof.events)
			encs[i], _ = p.MarshalBinary()
		}
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		held := make([]*Partial, keys)
		size := 0
		for k := range held {
			var p, q Partial
			if err := p.UnmarshalBinary(encs[0]); err != nil {
				t.Fatal(err)
			}
			if err := q.UnmarshalBinary(encs[1]); err != nil {
				t.Fatal(err)
			}
			if err := p.Merge(&q); err != nil {
				t.Fatal(err)
			}
			held[k] = &p
			size += p.SizeBytes()
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		heap := float64(after.HeapAlloc) - float64(before.HeapAlloc)
		t.Logf("%s: %d keys: heap %.1f MB (%.1f KB/key), SizeBytes %.1f KB/key, encoded partial %d B",
			prof.name, keys, heap/1e6, heap/keys/1e3, float64(size)/keys/1e3, len(encs[0]))
		if math.Abs(heap-float64(size))/heap > 0.5 {
			t.Errorf("SizeBytes %d is far from the measured heap %.0f", size, heap)
		}
		runtime.KeepAlive(held)
	}
}
