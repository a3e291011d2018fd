package console

import (
	"encoding/xml"
	"errors"
	"io"
	"math"
	"strings"
	"testing"
)

// wellFormed parses an SVG fragment as XML (a browser would render a
// broken one as nothing).
func wellFormed(t *testing.T, what, s string) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(s))
	for {
		if _, err := d.Token(); errors.Is(err, io.EOF) {
			return
		} else if err != nil {
			t.Fatalf("%s: not well-formed: %v\n%s", what, err, s)
		}
	}
}

func TestCharts(t *testing.T) {
	nan := math.NaN()
	lc := lineChart{Title: `a "quoted" <title>`, Format: "pct", From: 1000, To: 2000, Step: 10, ZeroMin: true,
		Series: []series{{Name: "x<y", Pts: []point{{1000, 0.1, 0.05, 0.2}, {1010, 0.2, nan, nan}, {1500, 0.3, 0.2, 0.4}, {1510, nan, nan, nan}}}},
		Lines:  []hline{{V: 0.15, Label: "rule > 0.15"}}, Marks: []point{{T: 1500, V: 0.3}}}
	s := string(lc.svg())
	wellFormed(t, "line chart", s)
	if strings.Contains(s, "NaN") || strings.Contains(s, "Inf") || strings.Contains(s, "<title>a \"quoted\"") {
		t.Fatalf("line chart: %s", s)
	}
	// The gap between 1010 and 1500 breaks the line: two runs, the second
	// a lone point drawn as a dot.
	_, line, _ := strings.Cut(s, `class="ln s0"`)
	line, _, _ = strings.Cut(line, `"><title>`)
	if strings.Count(line, "M") != 2 || !strings.Contains(s, `class="dot s0"`) || !strings.Contains(s, `class="thr"`) {
		t.Fatalf("gaps, dots or threshold missing: %s", s)
	}
	wellFormed(t, "empty chart", string(lineChart{From: 0, To: 0}.svg()))

	h := heatmap{Rows: []string{"latency_ms", "prompt_text"}, Cols: []int64{100, 110, 120},
		Cells: [][]heatCell{{{Has: true, Strength: 0.2}, {Has: true, Strength: 3, Flagged: true, Tip: "a|b~c"}, {}},
			{{Has: true, Insufficient: true}, {}, {Has: true, Strength: 1}}},
		Href: "/signals/drift/distribution?app=a&feature={f}&at={t}"}
	hs := string(h.svg())
	wellFormed(t, "heatmap", hs)
	if strings.Count(hs, `<a class="flag"`) != 1 || !strings.Contains(hs, `data-feature="latency_ms" data-at="110"`) ||
		!strings.Contains(hs, "feature=latency_ms&amp;at=110") {
		t.Fatalf("flagged cell link: %s", hs)
	}
	wellFormed(t, "histograms", string(histPair([]bar{{"<1", 0.5, 0.1}, {"1–2", 0.5, 0.9}}, "base", "cur")))
	wellFormed(t, "intervals", string(intervalPlot([]interval{{Label: "hi-IN", V: 0.25, Lo: 0.2, Hi: 0.3, Significant: true},
		{Label: "en-US", V: 0.03, Lo: nan, Hi: nan, Reference: true}})))
}
