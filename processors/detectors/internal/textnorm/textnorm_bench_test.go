package textnorm

import (
	"strings"
	"testing"
)

var benchText = strings.Repeat("The 2013 Liqui Moly Bathurst 12 Hour was an endurance race for GT3 cars, staged at the Mount Panorama Circuit on 10 February 2013. ", 16)

func BenchmarkTokenize(b *testing.B) {
	for _, m := range []struct {
		name string
		mode Mode
	}{{"plain", Plain}, {"content", Content}} {
		b.Run(m.name, func(b *testing.B) {
			tk := Tokenizer{Mode: m.mode}
			buf := make([]Token, 0, 1024)
			b.ReportAllocs()
			b.SetBytes(int64(len(benchText)))
			for b.Loop() {
				buf = tk.Tokenize(buf[:0], benchText)
			}
		})
	}
}
