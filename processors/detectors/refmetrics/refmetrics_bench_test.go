package refmetrics

import (
	"strings"
	"testing"

	"github.com/sightline-dev/sightline/processors/detectors"
)

func BenchmarkRefMetrics(b *testing.B) {
	in := &detectors.Input{
		Completion: strings.Repeat("The race was staged at the Mount Panorama Circuit near Bathurst in New South Wales on 10 February 2013, the eleventh running, with GT3 and GT4 cars on a 6.213 km track. ", 4),
		Reference:  "The 2013 Liqui Moly Bathurst 12 Hour was staged at the Mount Panorama Circuit, a 6.213 km track near Bathurst, New South Wales, on 10 February 2013.",
	}
	d := New(Config{})
	out := make(detectors.Out, len(Outputs()))
	b.ReportAllocs()
	b.SetBytes(int64(len(in.Completion) + len(in.Reference)))
	for b.Loop() {
		_ = d.Detect(in, out)
	}
}
