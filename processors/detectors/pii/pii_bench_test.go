package pii

import (
	"strings"
	"testing"

	"github.com/sightline-dev/sightline/processors/detectors"
)

func BenchmarkPII(b *testing.B) {
	in := &detectors.Input{
		Prompt:     "You are a helpful assistant. Answer from the context only. What is the length of the track where the 2013 Liqui Moly Bathurst 12 Hour was staged? Be brief; version 1.2.3.",
		Completion: strings.Repeat("The race was staged at the Mount Panorama Circuit near Bathurst in New South Wales on 10 February 2013, the eleventh running, with GT3 and GT4 cars on a 6.213 km track. ", 5),
	}
	d := New(Config{})
	out := make(detectors.Out, len(Outputs()))
	b.ReportAllocs()
	b.SetBytes(int64(len(in.Prompt) + len(in.Completion)))
	for b.Loop() {
		_ = d.Detect(in, out)
	}
}
