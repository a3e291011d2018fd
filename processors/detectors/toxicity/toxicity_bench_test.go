package toxicity

import (
	"strings"
	"testing"

	"github.com/sightline-dev/sightline/processors/detectors"
)

// benchInput is the event size of the performance budget: about 1 KB of
// prompt and completion together and 2 KB of retrieved context.
func benchInput() *detectors.Input {
	prompt := strings.Repeat("Could you explain how the billing cycle works for my account? ", 9)[:500]
	completion := strings.Repeat("Sure! Your billing cycle starts on the day you subscribed and renews monthly. ", 8)[:524]
	ctx := strings.Repeat("Billing renews monthly on the subscription date; invoices are emailed. ", 30)[:2048]
	return &detectors.Input{Prompt: prompt, Question: prompt, Completion: completion, Context: []string{ctx}}
}

// BenchmarkToxicity scores the prompt and the completion of one event; the
// budget is 12 µs per event.
func BenchmarkToxicity(b *testing.B) {
	d := New(Config{})
	in := benchInput()
	out := make(detectors.Out, len(Outputs()))
	b.ReportAllocs()
	b.SetBytes(int64(len(in.Prompt) + len(in.Completion)))
	for b.Loop() {
		clear(out)
		if err := d.Detect(in, out); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkToxicityEvidence is the slow path: a toxic completion whose
// evidence is extracted.
func BenchmarkToxicityEvidence(b *testing.B) {
	d := New(Config{})
	in := benchInput()
	in.Completion = strings.Repeat("you are a stupid worthless idiot and everyone hates you. ", 10)[:524]
	out := make(detectors.Out, len(Outputs()))
	b.ReportAllocs()
	b.SetBytes(int64(len(in.Prompt) + len(in.Completion)))
	for b.Loop() {
		clear(out)
		if err := d.Detect(in, out); err != nil {
			b.Fatal(err)
		}
	}
}
