package score

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sightline-dev/sightline/processors/detectors/registry"
	"github.com/sightline-dev/sightline/processors/detectors/runner"
	"github.com/sightline-dev/sightline/schemas"
	"github.com/sightline-dev/sightline/schemas/eventpb"
)

// BenchmarkStagePerEvent: the score stage's CPU cost per event before the
// ClickHouse insert: protobuf decode, validation, truncation, features and
// every detector, on an event with ~1 KB of prompt and completion and ~2 KB
// of context.
func BenchmarkStagePerEvent(b *testing.B) {
	ev := &eventpb.Event{
		SchemaVersion: 1, EventId: "0190c8e4-5a2b-7c3d-8e4f-0123456789ab", Tenant: "t", App: "search-rag", Model: "gpt-4o",
		Ts: timestamppb.New(time.Now()), DurationMs: 812, InputTokens: 700, OutputTokens: 120, Variant: "control",
		Prompt: []*eventpb.Message{
			{Role: "system", Content: "Answer using only the documents. Be concise and cite facts."},
			{Role: "user", Content: "When was the Eiffel Tower completed, how tall is it, and who built it? " + strings.Repeat("Please include dates and numbers from the documents. ", 8)},
		},
		Completion: []*eventpb.Message{{Role: "assistant", FinishReason: "stop", Content: "The Eiffel Tower was completed in 1889 for the World's Fair. It is 330 metres tall and was built by Gustave Eiffel's company. " +
			strings.Repeat("It remained the tallest structure in the world until 1930, when the Chrysler Building surpassed it. ", 3)}},
		Context: []string{
			strings.Repeat("The Eiffel Tower was completed in 1889 for the World's Fair in Paris and is 330 metres tall. ", 11),
			strings.Repeat("Gustave Eiffel's company designed and built the tower, which remained the tallest structure until 1930, when the Chrysler Building surpassed it. ", 7),
		},
		Segments: map[string]string{"user.locale": "de-DE"},
	}
	raw, err := proto.Marshal(ev)
	if err != nil {
		b.Fatal(err)
	}
	dets, err := registry.Build(nil)
	if err != nil {
		b.Fatal(err)
	}
	s := &Stage{scorer: runner.New(dets, nil)}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ev, err := schemas.Decode(raw)
		if err != nil {
			b.Fatal(err)
		}
		_ = s.Score(ev, 0, int64(i))
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
