package refusal

import (
	"strings"
	"testing"

	"github.com/sightline-dev/sightline/processors/detectors"
)

func BenchmarkRefusal(b *testing.B) {
	for _, c := range []struct{ name, text string }{
		{"answer", strings.Repeat("The race was staged at the Mount Panorama Circuit near Bathurst in New South Wales on 10 February 2013. ", 6)},
		{"refusal", "I'm sorry, but I can't help with that. " + strings.Repeat("If you have other questions, I'm happy to help. ", 12)},
	} {
		b.Run(c.name, func(b *testing.B) {
			d := New(Config{})
			in := &detectors.Input{Completion: c.text}
			out := make(detectors.Out, len(Outputs()))
			b.ReportAllocs()
			b.SetBytes(int64(len(c.text)))
			for b.Loop() {
				_ = d.Detect(in, out)
			}
		})
	}
}
