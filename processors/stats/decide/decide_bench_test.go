package decide

import (
	"math/rand/v2"
	"testing"

	"github.com/sightline-dev/sightline/processors/stats"
)

// BenchmarkNumericDecision is the per-window drift decision of one numeric
// feature on 64-bin histograms of 2,000 events each.
func BenchmarkNumericDecision(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	ref, _ := stats.NewHistogram(stats.LinearEdges(-4, 4, 64))
	cur := ref.Clone()
	for i := 0; i < 2000; i++ {
		ref.Add(rng.NormFloat64())
		cur.Add(rng.NormFloat64() + 0.2)
	}
	cfg := DefaultDriftConfig()
	b.ReportAllocs()
	for b.Loop() {
		Numeric(ref, cur, cfg)
	}
}

func BenchmarkBiasDecision(b *testing.B) {
	groups := []stats.GroupCount{gc("a", 400, 2000), gc("b", 500, 2000), gc("c", 410, 1800), gc("d", 20, 60)}
	b.ReportAllocs()
	for b.Loop() {
		Bias(groups, BiasConfig{})
	}
}
