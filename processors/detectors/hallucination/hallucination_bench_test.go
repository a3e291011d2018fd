package hallucination

import (
	"strings"
	"testing"

	"github.com/sightline-dev/sightline/processors/detectors"
)

// benchInput is the reference event of the performance budget: about 1 KB
// of prompt plus completion and about 2 KB of retrieved context.
func benchInput() *detectors.Input {
	passage := "The 2013 Liqui Moly Bathurst 12 Hour was an endurance race for a variety of GT and touring car classes, " +
		"including GT3 cars, GT4 cars and Group 3E Series Production Cars. The event was staged at the Mount Panorama " +
		"Circuit, near Bathurst, in New South Wales, Australia on 10 February 2013, and was the eleventh running of the race. "
	ctx := []string{strings.Repeat(passage, 3), strings.Repeat(passage, 3)[:700]}
	q := "What is the length of the track where the 2013 Liqui Moly Bathurst 12 Hour was staged?"
	return &detectors.Input{
		Prompt:     "You are a helpful assistant. Answer from the context only. " + q + " Be brief and cite the passage.",
		Question:   q,
		Completion: strings.Repeat("The race was staged at the Mount Panorama Circuit near Bathurst in New South Wales on 10 February 2013, the eleventh running, with GT3 and GT4 cars on a 6.213 km track. ", 5),
		Context:    ctx,
	}
}

func BenchmarkHallucination(b *testing.B) {
	in := benchInput()
	d := New(Config{})
	out := make(detectors.Out, len(Outputs()))
	n := len(in.Prompt) + len(in.Completion)
	for _, c := range in.Context {
		n += len(c)
	}
	b.ReportAllocs()
	b.SetBytes(int64(n))
	for b.Loop() {
		clear(out)
		if err := d.Detect(in, out); err != nil {
			b.Fatal(err)
		}
	}
}
