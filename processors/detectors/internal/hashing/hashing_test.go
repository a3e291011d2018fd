package hashing

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"lowercase and punctuation", "Hello, WORLD!!", "hello world"},
		{"retweet and mention", "RT @someone: you ok?", "you ok"},
		{"rt inside words is kept", "start party", "start party"},
		{"url", "see https://example.com/x?y=1 now", "see now"},
		{"www url", "go www.example.org.", "go"},
		{"entity", "fish &amp; chips &#8220;yes&#8221;", "fish chips yes"},
		{"apostrophe", "don't stop", "dont stop"},
		{"elongation", "soooo goooood", "soo good"},
		{"unicode letters", "Straße ÉCOLE", "straße école"},
		{"invalid utf8", "a\xffb", "a b"},
		{"hashtag", "#blessed day", "blessed day"},
		{"digits kept", "call 555 1234", "call 555 1234"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(Normalize(nil, tt.in)); got != tt.want {
				t.Errorf("Normalize(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestNormalizeAppends(t *testing.T) {
	got := string(Normalize([]byte("prefix|"), "A b"))
	if got != "prefix|a b" {
		t.Errorf("got %q", got)
	}
}

func TestExtractCounts(t *testing.T) {
	f := Features{Bits: 16, Words: true, Bigrams: true, CharMin: 3, CharMax: 3}
	// "ab cd": 2 words, 1 bigram, char 3-grams of " ab " (2) and " cd " (2).
	if n := len(f.Extract(nil, []byte("ab cd"))); n != 7 {
		t.Errorf("got %d features, want 7", n)
	}
	for _, b := range f.Extract(nil, []byte("some longer text here")) {
		if b >= 1<<16 {
			t.Fatalf("bucket %d out of range", b)
		}
	}
}

// TestAUC checks against values computed by hand from the Mann-Whitney
// definition (P(score+ > score-) + ½P(tie)).
func TestAUC(t *testing.T) {
	tests := []struct {
		name   string
		scores []float64
		labels []bool
		want   float64
	}{
		{"perfect", []float64{0.1, 0.2, 0.8, 0.9}, []bool{false, false, true, true}, 1},
		{"inverted", []float64{0.9, 0.8, 0.2, 0.1}, []bool{false, false, true, true}, 0},
		{"all tied", []float64{0.5, 0.5, 0.5, 0.5}, []bool{false, true, false, true}, 0.5},
		// pairs (+,-): (0.35>0.1) (0.35<0.4) (0.8>0.1) (0.8>0.4) → 3/4.
		{"sklearn doc example", []float64{0.1, 0.4, 0.35, 0.8}, []bool{false, false, true, true}, 0.75},
	}
	for _, tt := range tests {
		if got := AUC(tt.scores, tt.labels); math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("%s: AUC = %v, want %v", tt.name, got, tt.want)
		}
	}
	if !math.IsNaN(AUC([]float64{1}, []bool{true})) {
		t.Error("AUC with one class should be NaN")
	}
}

func TestFolds(t *testing.T) {
	strata := make([]int, 100)
	for i := range strata {
		strata[i] = i % 3
	}
	a, b := Folds(strata, 5, 7), Folds(strata, 5, 7)
	count := make([]int, 5)
	for i := range a {
		if a[i] != b[i] {
			t.Fatal("folds are not deterministic")
		}
		count[a[i]]++
	}
	for f, c := range count {
		if c != 20 {
			t.Errorf("fold %d has %d rows, want 20", f, c)
		}
	}
}

func toySamples(f Features) []Sample {
	texts := []struct {
		s   string
		pos bool
	}{
		{"you are awful and stupid", true}, {"stupid awful people", true}, {"awful awful", true},
		{"have a lovely day", false}, {"what a lovely garden", false}, {"thanks, lovely", false},
	}
	var out []Sample
	for _, x := range texts {
		out = append(out, Sample{Feats: f.Extract(nil, Normalize(nil, x.s)), Label: x.pos, Weight: 1, Extra: []uint8{0}})
	}
	return out
}

func TestFitAndRoundTrip(t *testing.T) {
	f := Features{Bits: 12, Words: true, Bigrams: true, CharMin: 3, CharMax: 4}
	opt := TrainOptions{L2: 1e-3, Iterations: 100, NumExtra: 1}
	m, err := Fit(toySamples(f), f, opt)
	if err != nil {
		t.Fatal(err)
	}
	pos := m.MarginExtra(f.Extract(nil, Normalize(nil, "so stupid")), []uint8{0})
	neg := m.MarginExtra(f.Extract(nil, Normalize(nil, "lovely")), []uint8{0})
	if !(pos > 0 && neg < 0) {
		t.Errorf("margins pos=%v neg=%v, want >0 and <0", pos, neg)
	}
	magic := [4]byte{'T', 'E', 'S', 'T'}
	var b1, b2 bytes.Buffer
	if _, err := m.WriteTo(&b1, magic); err != nil {
		t.Fatal(err)
	}
	m2, err := Fit(toySamples(f), f, opt)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m2.WriteTo(&b2, magic); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b1.Bytes(), b2.Bytes()) {
		t.Error("training twice gave different bytes")
	}
	r, err := ReadLinear(bytes.NewReader(b1.Bytes()), magic)
	if err != nil {
		t.Fatal(err)
	}
	if r.Bias != m.Bias || r.Scale != m.Scale || r.Features != m.Features || len(r.Extra) != 1 || r.Extra[0] != m.Extra[0] {
		t.Error("round trip changed the model header")
	}
	for i := range m.W {
		if r.W[i] != m.W[i] {
			t.Fatalf("round trip changed weight %d", i)
		}
	}
	if _, err := ReadLinear(bytes.NewReader(b1.Bytes()), [4]byte{'X', 'X', 'X', 'X'}); err == nil {
		t.Error("wrong magic accepted")
	}
	if _, err := ReadLinear(bytes.NewReader(b1.Bytes()[:len(b1.Bytes())/2]), magic); err == nil {
		t.Error("truncated model accepted")
	}
}

// TestMinimizeConverges checks that Fit's minimizer stops at a minimum of
// the toy problem, not at its iteration bound or a failed line search: the
// largest gradient component left is below 1e-6 (measured: 4.7e-10 after
// 20 iterations).
func TestMinimizeConverges(t *testing.T) {
	f := Features{Bits: 12, Words: true, Bigrams: true, CharMin: 3, CharMax: 4}
	opt := TrainOptions{L2: 1e-3, Iterations: 1000, NumExtra: 1}
	o := newObjective(toySamples(f), f, opt)
	x := make([]float64, o.bias+1)
	settings, method := lbfgs(opt.Iterations)
	res, err := minimizeWith(o, x, settings, method)
	if err != nil {
		t.Fatal(err)
	}
	if res.MajorIterations >= opt.Iterations {
		t.Errorf("stopped at the iteration bound (%v)", res.Status)
	}
	o.eval(x)
	var g float64
	for _, v := range o.lastG {
		g = max(g, math.Abs(v))
	}
	t.Logf("%v after %d iterations, %d evaluations: f=%v max|g|=%.3g", res.Status, res.MajorIterations, o.evals, o.lastF, g)
	if g > 1e-6 {
		t.Errorf("max|gradient| = %v at the minimum, want < 1e-6", g)
	}
}

func TestFitRejects(t *testing.T) {
	f := Features{Bits: 12, Words: true}
	ok := toySamples(f)
	tests := []struct {
		name    string
		samples []Sample
		opt     TrainOptions
	}{
		{"no samples", nil, TrainOptions{L2: 1, Iterations: 1}},
		{"one class", ok[:3], TrainOptions{L2: 1, Iterations: 1, NumExtra: 1}},
		{"zero L2", ok, TrainOptions{Iterations: 1, NumExtra: 1}},
		{"extra out of range", ok, TrainOptions{L2: 1, Iterations: 1}},
	}
	for _, tt := range tests {
		if _, err := Fit(tt.samples, f, tt.opt); err == nil {
			t.Errorf("%s: want error", tt.name)
		}
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"", "RT @a: b", "http://x y", "&amp;&#;&", "a\xff\xfe", "don't", "ÉÉÉ", strings.Repeat("a", 1000), "rt", " rt rt "} {
		f.Add(s)
	}
	feats := Features{Bits: 10, Words: true, Bigrams: true, CharMin: 1, CharMax: 7}
	f.Fuzz(func(t *testing.T, s string) {
		n := Normalize(nil, s)
		if !utf8.Valid(n) {
			t.Fatalf("invalid UTF-8 output %q", n)
		}
		if len(n) > 0 && (n[0] == ' ' || n[len(n)-1] == ' ') || bytes.Contains(n, []byte("  ")) {
			t.Fatalf("bad spacing in %q", n)
		}
		if again := Normalize(nil, string(n)); !bytes.Equal(again, n) && !bytes.Contains(n, []byte("rt")) && !bytes.Contains(n, []byte("www")) && !bytes.Contains(n, []byte("http")) {
			t.Fatalf("not idempotent: %q -> %q", n, again)
		}
		for _, b := range feats.Extract(nil, n) {
			if b >= 1<<10 {
				t.Fatalf("bucket %d out of range", b)
			}
		}
	})
}

func BenchmarkNormalizeExtract(b *testing.B) {
	text := strings.Repeat("Could you explain how the billing cycle works for my account? ", 9)[:512]
	f := Features{Bits: 18, Words: true, Bigrams: true, CharMin: 3, CharMax: 5}
	norm := make([]byte, 0, 1024)
	feats := make([]uint32, 0, 4096)
	b.ReportAllocs()
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		norm = Normalize(norm[:0], text)
		feats = f.Extract(feats[:0], norm)
	}
}
