package hallucination

import (
	"strings"
	"testing"

	"github.com/sightline-dev/sightline/processors/detectors"
)

func TestDetect(t *testing.T) {
	ctx := []string{"House of Anubis is a mystery television series developed for Nickelodeon. It first aired in September 2006 and the last episode was broadcast on December 4, 2009. The show had 1,000 extras."}
	tests := []struct {
		name       string
		in         detectors.Input
		valid      bool
		minRisk    float64
		maxRisk    float64
		wantSpan   string
		noSpansFor bool
	}{
		{name: "no evidence", in: detectors.Input{Completion: "2006"}},
		{name: "blank evidence", in: detectors.Input{Completion: "2006", Context: []string{"  "}}},
		{name: "supported short", in: detectors.Input{Question: "When did it first air?", Completion: "2006", Context: ctx}, valid: true, maxRisk: 0.05},
		{name: "supported long", in: detectors.Input{Question: "When did House of Anubis first air?",
			Completion: "House of Anubis first aired in September 2006 on Nickelodeon.", Context: ctx}, valid: true, maxRisk: 0.1},
		{name: "number formats", in: detectors.Input{Question: "How many extras?", Completion: "It had one thousand extras, 1000 in all.", Context: ctx}, valid: true, maxRisk: 0.35},
		{name: "wrong year", in: detectors.Input{Question: "When did House of Anubis first air?",
			Completion: "House of Anubis first aired in 2008.", Context: ctx}, valid: true, minRisk: 0.5, wantSpan: "2008"},
		{name: "invented entity", in: detectors.Input{Question: "Who developed it?", Completion: "It was developed by Warner Bros Discovery.", Context: ctx},
			valid: true, minRisk: 0.6, wantSpan: "Warner Bros Discovery"},
		{name: "reference only", in: detectors.Input{Completion: "Paris", Reference: "Paris"}, valid: true, maxRisk: 0.05},
		{name: "echo only", in: detectors.Input{Question: "Was it Nickelodeon or Disney?", Completion: "Disney", Context: ctx}, valid: true, maxRisk: 0.2},
	}
	d := New(Config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := make(detectors.Out, len(Outputs()))
			if err := d.Detect(&tt.in, out); err != nil {
				t.Fatal(err)
			}
			if out[OutRisk].Valid != tt.valid || out[OutGrounding].Valid != tt.valid {
				t.Fatalf("valid = %v/%v, want %v", out[OutRisk].Valid, out[OutGrounding].Valid, tt.valid)
			}
			if !tt.valid {
				return
			}
			r := out[OutRisk].Num
			if r < tt.minRisk || (tt.maxRisk > 0 && r > tt.maxRisk) {
				t.Errorf("risk = %.3f, want in [%.2f, %.2f]; spans %q", r, tt.minRisk, tt.maxRisk, out[OutUnsupported].List)
			}
			if tt.wantSpan != "" && !contains(out[OutUnsupported].List, tt.wantSpan) {
				t.Errorf("spans = %q, want %q among them", out[OutUnsupported].List, tt.wantSpan)
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestSpansBounded(t *testing.T) {
	d := New(Config{MaxSpans: 3, MaxSpanBytes: 10})
	comp := strings.Repeat("Zorblax quintuplets, ", 50)
	r := d.Score(comp, "", "", []string{"nothing relevant here"}, "")
	if len(r.Spans) != 3 {
		t.Fatalf("got %d spans, want 3", len(r.Spans))
	}
	for _, s := range r.Spans {
		if len(s) > 10 {
			t.Errorf("span %q longer than 10 bytes", s)
		}
	}
	if r.Risk < 0.9 {
		t.Errorf("risk = %.3f, want >= 0.9", r.Risk)
	}
}

func TestDisabled(t *testing.T) {
	d := New(Config{Disabled: true})
	out := make(detectors.Out, len(Outputs()))
	if err := d.Detect(&detectors.Input{Completion: "x", Reference: "y"}, out); err != nil || out[OutRisk].Valid {
		t.Fatalf("disabled detector scored: %+v, %v", out[OutRisk], err)
	}
}

func FuzzHallucination(f *testing.F) {
	f.Add("2006", "When?", "It first aired in 2006.", "", 0)
	f.Add("\xff\xfe 1,000 three", "\x00", "1000 3", "three", 1)
	f.Add(strings.Repeat("word. ", 1000), "q", strings.Repeat("x", 5000), "ref", 2)
	d := New(Config{MaxInputBytes: 4096})
	f.Fuzz(func(t *testing.T, comp, q, ctx, ref string, n int) {
		in := detectors.Input{Completion: comp, Question: q, Prompt: q, Reference: ref}
		for i := 0; i < n%4; i++ {
			in.Context = append(in.Context, ctx)
		}
		out := make(detectors.Out, len(Outputs()))
		if err := d.Detect(&in, out); err != nil {
			t.Fatal(err)
		}
		if out[OutRisk].Valid {
			if v := out[OutRisk].Num; !(v >= 0 && v <= 1) {
				t.Fatalf("risk %v out of [0,1]", v)
			}
			if v := out[OutGrounding].Num; !(v >= 0 && v <= 1) {
				t.Fatalf("grounding %v out of [0,1]", v)
			}
		}
		if len(out[OutUnsupported].List) > 8 {
			t.Fatalf("%d spans", len(out[OutUnsupported].List))
		}
	})
}
