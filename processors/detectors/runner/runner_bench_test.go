package runner_test

import (
	"testing"

	"github.com/sightline-dev/sightline/processors/detectors"
	"github.com/sightline-dev/sightline/processors/detectors/registry"
	"github.com/sightline-dev/sightline/processors/detectors/runner"
)

// BenchmarkScoreAll: every detector on one event with ~1 KB of prompt and
// completion and ~2 KB of context, on one core. events/s/core = 1e9/ns_op.
func BenchmarkScoreAll(b *testing.B) {
	dets, err := registry.Build(nil)
	if err != nil {
		b.Fatal(err)
	}
	s := runner.New(dets, nil)
	ev := benchEvent()
	n := len(ev.GetReference())
	for _, m := range ev.GetPrompt() {
		n += len(m.GetContent())
	}
	for _, m := range ev.GetCompletion() {
		n += len(m.GetContent())
	}
	for _, c := range ev.GetContext() {
		n += len(c)
	}
	var out detectors.Scores
	b.SetBytes(int64(n))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.Score(ev, &out)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkDetector: each detector alone on the same event.
func BenchmarkDetector(b *testing.B) {
	dets, err := registry.Build(nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, d := range dets {
		b.Run(d.Name(), func(b *testing.B) {
			in := runner.InputOf(benchEvent())
			out := make(detectors.Out, len(d.Outputs()))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				clear(out)
				d.Detect(&in, out)
			}
		})
	}
}
