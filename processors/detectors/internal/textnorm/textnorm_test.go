package textnorm

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"Hello, World!", "hello world"},
		{"1,000 people", "1000 peopl"},
		{"1,000,000", "1000000"},
		{"It cost 2.50 dollars", "it cost 2.5 dollar"},
		{"3.0", "3"},
		{"three cats", "3 cat"},
		{"the 3rd and 1990s", "the 3 and 1990"},
		{"aired based titles", "air bas titl"},
		{"aired in 2006.", "air in 2006"},
		{"running studies", "run study"},
		{"glasses process", "glass process"},
		{"Arthur's Magazine", "arthur s magazin"},
		{"16-year-old", "16 year old"},
		{"Ünïcödé Straße", "ünïcödé straße"},
		{"1,00", "1 00"},
		{"", ""},
		{"\xff\xfeabc", "abc"},
	}
	for _, tt := range tests {
		if got := Normalize(tt.in); got != tt.want {
			t.Errorf("Normalize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestFlags(t *testing.T) {
	var tk Tokenizer
	tk.Mode = Content
	toks := tk.Tokenize(nil, "The Fox aired. Then 5 of them")
	want := []Flag{Stop | Upper | Initial, Upper, 0, Stop | Upper | Initial, Number, Stop, Stop}
	if len(toks) != len(want) {
		t.Fatalf("got %d tokens, want %d", len(toks), len(want))
	}
	for i, tok := range toks {
		if tok.Flags != want[i] {
			t.Errorf("token %d flags = %b, want %b", i, tok.Flags, want[i])
		}
	}
	if toks[1].Start != 4 || toks[1].End != 7 {
		t.Errorf("Fox span = %d..%d, want 4..7", toks[1].Start, toks[1].End)
	}
}

func TestPlain(t *testing.T) {
	tk := Tokenizer{Mode: Plain, KeepText: true}
	tk.Tokenize(nil, "The cats, 1,000 aired!")
	if got, want := string(tk.Text), "the cats 1 000 aired"; got != want {
		t.Errorf("Plain = %q, want %q", got, want)
	}
}

func TestSetCounter(t *testing.T) {
	var s Set
	s.Reset(2)
	for i := uint64(0); i < 1000; i++ {
		if !s.Add(i * 7) {
			t.Fatalf("Add(%d) not new", i*7)
		}
	}
	if s.Add(0) {
		t.Fatal("Add(0) twice reported new")
	}
	for i := uint64(0); i < 1000; i++ {
		if !s.Has(i*7) || s.Has(i*7+1) { // 7i+1 was never added
			t.Fatalf("Has wrong at %d", i)
		}
	}
	if s.Len() != 1000 {
		t.Fatalf("Len = %d", s.Len())
	}
	var c Counter
	c.Reset(1)
	for i := 0; i < 100; i++ {
		c.Add(uint64(i%10), 1)
	}
	if got := c.Get(3); got != 10 {
		t.Fatalf("Get(3) = %d, want 10", got)
	}
	if got := c.Get(42); got != 0 {
		t.Fatalf("Get(42) = %d, want 0", got)
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"", "1,000.50 three 3rd", "Ünï\xff\xfe", strings.Repeat("9", 200), "a,b.c!d?e\n", "1,000,", "1..2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var tk Tokenizer
		tk.Mode = Content
		tk.KeepText = true
		toks := tk.Tokenize(nil, s)
		prev := int32(0)
		for _, tok := range toks {
			if tok.Start < prev || tok.End <= tok.Start || int(tok.End) > len(s) {
				t.Fatalf("bad span %d..%d (prev %d, len %d)", tok.Start, tok.End, prev, len(s))
			}
			prev = tok.End
		}
		// Each token's hash is HashBytes of its normal form.
		if words := strings.Fields(string(tk.Text)); len(words) == len(toks) {
			for i, w := range words {
				if len(w) <= maxTokenBytes && HashString(w) != toks[i].Hash {
					t.Fatalf("token %d %q: hash %x, HashString %x", i, w, toks[i].Hash, HashString(w))
				}
			}
		} else {
			t.Fatalf("%d words of normal form %q, %d tokens", len(words), tk.Text, len(toks))
		}
		if !utf8.Valid(tk.Text) {
			t.Fatalf("normalized text is not UTF-8: %q", tk.Text)
		}
		// Normalizing the normal form again must not add tokens.
		if n := len(tk.Tokenize(nil, string(tk.Text))); n > 2*len(toks)+1 {
			t.Fatalf("renormalized %d tokens from %d", n, len(toks))
		}
	})
}
