package window

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/sightline-dev/sightline/processors/detectors"
	"github.com/sightline-dev/sightline/processors/detectors/registry"
	"github.com/sightline-dev/sightline/schemas/eventpb"
)

// testSchema is the schema of the default detectors' outputs.
var testSchema = func() *detectors.Schema {
	s, err := registry.Schema(nil)
	if err != nil {
		panic(err)
	}
	return s
}()

// gen makes synthetic scored events with known truth.
type gen struct {
	rng        *rand.Rand
	seq        int
	latMu      float64 // log-normal latency: exp(N(latMu, 0.5))
	toxRate    float64 // probability of a toxic completion
	halRate    float64
	groups     []string // segment user.locale values, round robin
	groupRates map[string]float64
	topics     []string
}

func newGen(seed uint64) *gen {
	return &gen{rng: rand.New(rand.NewPCG(seed, 7)), latMu: math.Log(800), toxRate: 0.1, halRate: 0.2,
		groups: []string{"en", "de"}, topics: []string{"how do I reset my password", "what is the refund policy for orders"}}
}

func (g *gen) next() (*eventpb.Event, *detectors.Scores) {
	g.seq++
	group := g.groups[g.seq%len(g.groups)]
	ttft := 100 + g.rng.Float64()*50
	ev := &eventpb.Event{
		EventId:      fmt.Sprintf("ev-%d-%d", g.seq, g.rng.Uint64()),
		Model:        "gpt-x",
		DurationMs:   math.Exp(g.latMu + 0.5*g.rng.NormFloat64()),
		TtftMs:       &ttft,
		InputTokens:  int64(50 + g.rng.IntN(400)),
		OutputTokens: int64(10 + g.rng.IntN(300)),
		CostUsd:      0.0001 + g.rng.Float64()*0.01,
		Prompt: []*eventpb.Message{{Role: "system", Content: "You are helpful."},
			{Role: "user", Content: g.topics[g.rng.IntN(len(g.topics))] + fmt.Sprintf(" item %d", g.rng.IntN(20))}},
		Completion: []*eventpb.Message{{Role: "assistant", Content: "Sure, here is how.", FinishReason: []string{"stop", "length"}[g.rng.IntN(2)]}},
		Segments:   map[string]string{"user.locale": group},
	}
	if g.rng.Float64() < 0.02 {
		ev.Error = &eventpb.Error{Type: "timeout"}
	}
	sc := detectors.NewScores(testSchema)
	s := &sc
	rate := g.toxRate
	if r, ok := g.groupRates[group]; ok {
		rate = r
	}
	if g.rng.Float64() < rate {
		s.Set("completion_toxicity", 0.6+0.4*g.rng.Float64())
	} else {
		s.Set("completion_toxicity", 0.4*g.rng.Float64())
	}
	s.Set("prompt_toxicity", 0.1*g.rng.Float64())
	if g.seq%2 == 0 { // half the events are checkable
		if g.rng.Float64() < g.halRate {
			s.Set("hallucination", 0.7)
		} else {
			s.Set("hallucination", 0.1)
		}
	}
	s.Set("prompt_injection", 0.05)
	s.SetFlag("refusal", g.rng.Float64() < 0.03)
	return ev, s
}

func fill(p *Partial, g *gen, n int) *Partial {
	for i := 0; i < n; i++ {
		ev, s := g.next()
		p.Add(ev, nil, s)
	}
	return p
}

var testKey = Key{Tenant: "t", App: "a", Model: "m", Variant: "v"}

func mustMarshal(t testing.TB, p *Partial) []byte {
	t.Helper()
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Merging the same partials in any order gives byte-identical encodings:
// (a+b)+c, c+(b+a), and a+b+c merged through encode/decode round trips.
func TestMergeOrderIndependent(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxGroups = 3 // force the overflow group
	cfg.MaxCategories = 2
	cfg.SampleSize = 16
	cfg.EmbeddingSampleSize = 8
	parts := make([]*Partial, 4)
	for i := range parts {
		g := newGen(uint64(i + 1))
		g.groups = []string{"en", "de", "fr", "es", "it", fmt.Sprint("x", i)}
		parts[i] = fill(NewPartial(testKey, 60, 60, cfg), g, 300)
		parts[i].Add(&eventpb.Event{EventId: fmt.Sprint("odd", i), Model: fmt.Sprint("model-", i),
			Completion: []*eventpb.Message{{FinishReason: fmt.Sprint("r", i)}}}, nil, nil)
	}
	merge := func(order []int) []byte {
		acc := NewPartial(testKey, 60, 60, cfg)
		for _, i := range order {
			if err := acc.Merge(parts[i]); err != nil {
				t.Fatal(err)
			}
		}
		return mustMarshal(t, acc)
	}
	want := merge([]int{0, 1, 2, 3})
	for _, order := range [][]int{{3, 2, 1, 0}, {1, 3, 0, 2}, {2, 0, 3, 1}} {
		if got := merge(order); !bytes.Equal(got, want) {
			t.Fatalf("order %v: encoding differs", order)
		}
	}
	// Associativity: (0+1) + (2+3) via decoded intermediates.
	left, right := parts[0].Clone(), parts[2].Clone()
	if err := left.Merge(parts[1]); err != nil {
		t.Fatal(err)
	}
	if err := right.Merge(parts[3]); err != nil {
		t.Fatal(err)
	}
	var l2, r2 Partial
	if err := l2.UnmarshalBinary(mustMarshal(t, left)); err != nil {
		t.Fatal(err)
	}
	if err := r2.UnmarshalBinary(mustMarshal(t, right)); err != nil {
		t.Fatal(err)
	}
	if err := r2.Merge(&l2); err != nil {
		t.Fatal(err)
	}
	if got := mustMarshal(t, &r2); !bytes.Equal(got, want) {
		t.Fatal("associativity through encoding: bytes differ")
	}
	// Adding the events one by one in another order gives the same as merging.
	if want2 := merge([]int{0}); !bytes.Equal(want2, mustMarshal(t, parts[0].Clone())) {
		t.Fatal("clone differs")
	}
}

func TestRoundTrip(t *testing.T) {
	p := fill(NewPartial(testKey, 120, 60, DefaultConfig()), newGen(9), 1000)
	b := mustMarshal(t, p)
	var q Partial
	if err := q.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(mustMarshal(t, &q), b) {
		t.Fatal("re-encoding differs")
	}
	if q.Key != testKey || q.WindowStart != 120 || q.WindowSeconds != 60 || q.Count() != 1000 {
		t.Fatalf("header: %+v %d %d %d", q.Key, q.WindowStart, q.WindowSeconds, q.Count())
	}
	t.Logf("encoded partial of 1000 events: %d bytes; SizeBytes %d", len(b), p.SizeBytes())
	// Custom edges travel with the partial.
	cfg := DefaultConfig()
	cfg.Edges = map[string][]float64{"latency_ms": {0, 100, 1000, 10000}}
	p = fill(NewPartial(testKey, 0, 60, cfg), newGen(3), 50)
	var r Partial
	if err := r.UnmarshalBinary(mustMarshal(t, p)); err != nil {
		t.Fatal(err)
	}
	if err := r.Merge(p); err != nil {
		t.Fatalf("decoded custom-edge partial must merge with its source: %v", err)
	}
	if err := r.Merge(NewPartial(testKey, 0, 60, DefaultConfig())); err == nil {
		t.Fatal("merging different edges must fail")
	}
	if err := r.Merge(NewPartial(Key{Tenant: "other"}, 0, 60, cfg)); err == nil {
		t.Fatal("merging different keys must fail")
	}
}

func TestDuplicateEventsSampledOnce(t *testing.T) {
	p := NewPartial(testKey, 0, 60, DefaultConfig())
	g := newGen(1)
	ev, s := g.next()
	p.Add(ev, nil, s)
	p.Add(ev, nil, s)
	if len(p.latSample.hashes) != 1 || len(p.embSample.hashes) != 1 {
		t.Fatalf("duplicate event sampled twice: %d %d", len(p.latSample.hashes), len(p.embSample.hashes))
	}
}

func find(sig []Signal, name, metric, group string) (Signal, bool) {
	for _, s := range sig {
		if s.Name == name && s.Metric == metric && s.Group == group {
			return s, true
		}
	}
	return Signal{}, false
}

func TestRatesAndQuantiles(t *testing.T) {
	g := newGen(5)
	g.toxRate = 0.12
	g.latMu = math.Log(1000)
	p := fill(NewPartial(testKey, 0, 60, DefaultConfig()), g, 5000)
	sig := Signals(p, nil, "", DefaultConfig())
	tox, ok := find(sig, "toxicity", "rate", "")
	if !ok || tox.N != 5000 || !(tox.Lo <= 0.12 && 0.12 <= tox.Hi) {
		t.Fatalf("toxicity rate %+v does not cover 0.12", tox)
	}
	hal, ok := find(sig, "hallucination", "rate", "")
	if !ok || hal.N != 2500 || !(hal.Lo <= 0.2 && 0.2 <= hal.Hi) {
		t.Fatalf("hallucination of checkable events %+v", hal)
	}
	// Median of exp(N(ln 1000, 0.5)) is 1000; the sketch is within 1% of
	// the sample median, which is within a few percent of 1000 at n=5000.
	p50, ok := find(sig, "latency_ms", "p50", "")
	if !ok || math.Abs(p50.Value-1000)/1000 > 0.05 {
		t.Fatalf("latency p50 %+v", p50)
	}
	p99, _ := find(sig, "latency_ms", "p99", "")
	if want := 1000 * math.Exp(0.5*2.3263); math.Abs(p99.Value-want)/want > 0.1 {
		t.Fatalf("latency p99 %v, want about %v", p99.Value, want)
	}
	for _, name := range []string{"input_tokens", "output_tokens", "total_tokens", "cost_usd"} {
		if s, ok := find(sig, name, "total", ""); !ok || !(s.Value > 0) {
			t.Errorf("%s total missing: %+v", name, s)
		}
	}
	if _, ok := find(sig, "latency_ms", "drift", ""); ok {
		t.Error("drift rows without a baseline")
	}
}
