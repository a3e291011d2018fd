package hashing

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

// wordCues fires category i on the word words[i].
type wordCues []string

func (c wordCues) Match(m *CueMatch, norm []byte) {
	for i := 0; ; {
		s, e, ok := NextWord(norm, i)
		if !ok {
			return
		}
		i = e
		for cat, w := range c {
			if string(norm[s:e]) == w {
				m.Set(cat, "cue:"+w)
			}
		}
	}
}

// toyClassifier has hand-set weights, so the expected evidence follows from
// the weights alone.
func toyClassifier(bigrams bool) *Classifier {
	f := Features{Bits: 12, Words: true, Bigrams: true}
	lin := &Linear{Features: f, Scale: 1, W: make([]int16, 1<<f.Bits), Extra: []float32{2, 5, -1}}
	set := func(b uint32, w int16) { lin.W[b&(1<<f.Bits-1)] = w }
	for word, w := range map[string]int16{"awful": 3, "stupid": 5, "the": 9, "abc1": 9, "lovely": -4} {
		set(f.WordFeatures(nil, []byte(word))[0], w)
	}
	set(f.BigramFeature([]byte("so"), []byte("stupid")), 4)
	return &Classifier{Lin: lin, Cues: wordCues{"secret", "plan", "so"}, Bigrams: bigrams}
}

func TestClassifierEvidence(t *testing.T) {
	const text = "The SO stupid, awful abc1 secret plan; lovely stupid."
	tests := []struct {
		bigrams bool
		k       int
		want    []string
	}{
		// Cues by weight (the negative one never), then words and phrases
		// by push; stopwords, digits and repeats are left out.
		{true, 8, []string{"cue:plan", "cue:secret", "stupid", "so stupid", "awful"}},
		{false, 8, []string{"cue:plan", "cue:secret", "stupid", "awful"}},
		{true, 3, []string{"cue:plan", "cue:secret", "stupid"}},
		{true, 1, []string{"cue:plan"}},
		{true, 0, nil},
		{true, 100, []string{"cue:plan", "cue:secret", "stupid", "so stupid", "awful"}},
	}
	for _, tt := range tests {
		c := toyClassifier(tt.bigrams)
		got := c.Explain([]string{"kept"}, text, tt.k)
		if !slices.Equal(got, append([]string{"kept"}, tt.want...)) {
			t.Errorf("bigrams=%v k=%d: got %q, want %q", tt.bigrams, tt.k, got[1:], tt.want)
		}
		s := GetScratch()
		c.Margin(s, text)
		if after := c.Evidence(nil, s, tt.k); !slices.Equal(after, got[1:]) {
			t.Errorf("bigrams=%v k=%d: Evidence after Margin %q, Explain %q", tt.bigrams, tt.k, after, got[1:])
		}
		PutScratch(s)
	}
}

func TestClassifierMargin(t *testing.T) {
	c := toyClassifier(true)
	norm := Normalize(nil, "so stupid secret")
	feats := c.Lin.Features.Extract(nil, norm)
	s := GetScratch()
	defer PutScratch(s)
	// Cues 0 (secret) and 2 (so) fire.
	if got, want := c.Margin(s, "So stupid secret!"), c.Lin.MarginExtra(feats, []uint8{0, 2}); got != want {
		t.Errorf("margin with cues %v, want %v", got, want)
	}
	c.Cues = nil
	if got, want := c.Margin(s, "So stupid secret!"), c.Lin.Margin(feats); got != want {
		t.Errorf("margin without cues %v, want %v", got, want)
	}
	// A classifier without cues ignores what an earlier one left in a
	// pooled scratch.
	if ev := c.Evidence(nil, s, 8); slices.ContainsFunc(ev, func(e string) bool { return strings.HasPrefix(e, "cue:") }) {
		t.Errorf("evidence without cues has cue phrases: %q", ev)
	}
}

func TestLoadEmbedded(t *testing.T) {
	c := toyClassifier(true)
	magic := [4]byte{'T', 'E', 'S', 'T'}
	var b bytes.Buffer
	if _, err := c.WriteTo(&b, magic); err != nil {
		t.Fatal(err)
	}
	if lin := LoadEmbedded(b.Bytes(), magic, "test"); lin.Features != c.Lin.Features || !slices.Equal(lin.W, c.Lin.W) || !slices.Equal(lin.Extra, c.Lin.Extra) {
		t.Error("LoadEmbedded changed the model")
	}
	defer func() {
		if recover() == nil {
			t.Error("a bad embedded model did not panic")
		}
	}()
	LoadEmbedded(b.Bytes()[:10], magic, "test")
}
