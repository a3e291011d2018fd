package hashing

import (
	"bytes"
	"io"
	"sync"
)

// Classifier is the machinery of a hashed linear text detector: a Linear
// model over the hashed n-grams of the normalized text plus, optionally,
// dense cue features, with the evidence that explains a score. Toxicity
// and prompt injection are two classifiers that differ in their weights,
// cues and evidence of phrases, not in this code. It is safe for
// concurrent use.
type Classifier struct {
	Lin *Linear
	// Cues finds the dense features (nil: none).
	Cues Cues
	// Bigrams makes two-word phrases evidence candidates beside words.
	Bigrams bool
}

// Cues finds dense 0/1 features (cue categories, at most MaxCues) in a
// normalized text.
type Cues interface {
	// Match records in m each category present in norm (from Normalize),
	// with the phrase that fired it.
	Match(m *CueMatch, norm []byte)
}

// MaxCues bounds the cue categories of a classifier; few enough that
// clearing a CueMatch per scoring costs next to nothing.
const MaxCues = 16

// CueMatch records what matched in one text: the categories present and,
// per category, the first phrase that fired (for evidence).
type CueMatch struct {
	cats    [MaxCues]bool
	phrases [MaxCues]string
}

// Set records category cat with phrase, unless it is recorded already.
func (c *CueMatch) Set(cat int, phrase string) {
	if !c.cats[cat] {
		c.cats[cat], c.phrases[cat] = true, phrase
	}
}

// Has reports whether category cat matched.
func (c *CueMatch) Has(cat int) bool { return c.cats[cat] }

// Phrase is the phrase that fired category cat.
func (c *CueMatch) Phrase(cat int) string { return c.phrases[cat] }

// AppendCats appends the present categories to dst as dense feature
// indexes.
func (c *CueMatch) AppendCats(dst []uint8) []uint8 {
	for i, ok := range c.cats {
		if ok {
			dst = append(dst, uint8(i))
		}
	}
	return dst
}

// Scratch holds the buffers of one scoring; pooling them keeps scoring
// free of allocations once the pool is warm. Margin fills it for Evidence.
type Scratch struct {
	norm  []byte
	feats []uint32
	cats  []uint8
	cues  CueMatch
}

var scratchPool = sync.Pool{New: func() any {
	return &Scratch{norm: make([]byte, 0, 4096), feats: make([]uint32, 0, 8192), cats: make([]uint8, 0, MaxCues)}
}}

// GetScratch takes a scratch from the pool; PutScratch returns it.
func GetScratch() *Scratch { return scratchPool.Get().(*Scratch) }

// PutScratch returns s to the pool.
func PutScratch(s *Scratch) { scratchPool.Put(s) }

// MaxScoreBytes bounds the text a classifier looks at; beyond it the cost
// would grow without changing a length-normalized score much.
const MaxScoreBytes = 64 << 10

// Margin returns the classifier's log-odds of text (its first
// MaxScoreBytes) and leaves in s what Evidence explains.
func (c *Classifier) Margin(s *Scratch, text string) float64 {
	if len(text) > MaxScoreBytes {
		text = text[:MaxScoreBytes]
	}
	s.norm = Normalize(s.norm[:0], text)
	s.feats = c.Lin.Features.Extract(s.feats[:0], s.norm)
	if c.Cues == nil {
		return c.Lin.Margin(s.feats)
	}
	s.cues = CueMatch{}
	c.Cues.Match(&s.cues, s.norm)
	s.cats = s.cues.AppendCats(s.cats[:0])
	return c.Lin.MarginExtra(s.feats, s.cats)
}

// Score returns the probability in [0,1] of the positive class for text
// (its first MaxScoreBytes).
func (c *Classifier) Score(text string) float64 {
	s := GetScratch()
	z := c.Margin(s, text)
	PutScratch(s)
	return Sigmoid(z)
}

// Explain appends to dst the evidence (see Evidence) of text, its first
// MaxScoreBytes. It skips the hashed features, which Evidence does not need.
func (c *Classifier) Explain(dst []string, text string, k int) []string {
	if len(text) > MaxScoreBytes {
		text = text[:MaxScoreBytes]
	}
	s := GetScratch()
	defer PutScratch(s)
	s.norm = Normalize(s.norm[:0], text)
	s.cues = CueMatch{}
	if c.Cues != nil {
		c.Cues.Match(&s.cues, s.norm)
	}
	return c.Evidence(dst, s, k)
}

// MaxEvidence bounds the items Evidence returns.
const MaxEvidence = 8

// Evidence appends to dst up to k (at most MaxEvidence) items that drove
// the score of the text Margin last saw in s: first the phrases of the
// matched cue categories with a positive weight, strongest first (the cue
// list's canonical phrases, not copies of the text), then the words (and,
// with Bigrams, two-word phrases) whose learned weights pushed hardest
// toward the positive class, strongest first, in normalized form. A word's
// push is the sum of the weights of its own features (word and character
// n-grams), a phrase's its bigram weight. Items containing digits are
// never reported, so numbers such as phone or account numbers cannot leak,
// and common function words are skipped as uninformative.
func (c *Classifier) Evidence(dst []string, s *Scratch, k int) []string {
	k = min(k, MaxEvidence)
	if k <= 0 {
		return dst
	}
	start := len(dst)
	if c.Cues != nil {
		var order [MaxCues]int
		n := 0
		for cat := 0; cat < MaxCues && cat < len(c.Lin.Extra); cat++ {
			if !s.cues.cats[cat] || c.Lin.Extra[cat] <= 0 {
				continue
			}
			order[n] = cat
			for i := n; i > 0 && c.Lin.Extra[order[i]] > c.Lin.Extra[order[i-1]]; i-- {
				order[i], order[i-1] = order[i-1], order[i]
			}
			n++
		}
		for i := 0; i < n && len(dst)-start < k; i++ {
			dst = append(dst, s.cues.phrases[order[i]])
		}
	}
	room := k - (len(dst) - start)
	if room <= 0 {
		return dst
	}
	type span struct {
		w    float64
		s, e int
	}
	var top [MaxEvidence]span
	n := 0
	add := func(sp span) {
		term := s.norm[sp.s:sp.e]
		if sp.w <= 0 || hasDigit(term) || IsStopword(term) {
			return
		}
		for i := 0; i < n; i++ {
			if bytes.Equal(s.norm[top[i].s:top[i].e], term) {
				return // the same term has the same push
			}
		}
		if n < room {
			top[n] = sp
			n++
		} else if sp.w > top[n-1].w {
			top[n-1] = sp
		} else {
			return
		}
		for i := n - 1; i > 0 && top[i].w > top[i-1].w; i-- {
			top[i], top[i-1] = top[i-1], top[i]
		}
	}
	f := c.Lin.Features
	prevS, prevE := -1, -1
	for i := 0; ; {
		ws, we, ok := NextWord(s.norm, i)
		if !ok {
			break
		}
		i = we
		s.feats = f.WordFeatures(s.feats[:0], s.norm[ws:we])
		var w float64
		for _, b := range s.feats {
			w += c.Lin.Weight(b)
		}
		add(span{w: w, s: ws, e: we})
		if c.Bigrams && prevS >= 0 {
			add(span{w: c.Lin.Weight(f.BigramFeature(s.norm[prevS:prevE], s.norm[ws:we])), s: prevS, e: we})
		}
		prevS, prevE = ws, we
	}
	for i := 0; i < n; i++ {
		dst = append(dst, string(s.norm[top[i].s:top[i].e]))
	}
	return dst
}

func hasDigit(b []byte) bool {
	for _, c := range b {
		if '0' <= c && c <= '9' {
			return true
		}
	}
	return false
}

// WriteTo writes the classifier's model in its compact gzip form under
// magic.
func (c *Classifier) WriteTo(w io.Writer, magic [4]byte) (int64, error) {
	return c.Lin.WriteTo(w, magic)
}

// LoadEmbedded reads a model embedded in the binary, written by WriteTo
// under magic. The embedded file is built and tested with the package that
// embeds it: a bad one is a build defect, not a runtime condition, so it
// panics, naming that package.
func LoadEmbedded(b []byte, magic [4]byte, pkg string) *Linear {
	lin, err := ReadLinear(bytes.NewReader(b), magic)
	if err != nil {
		panic(pkg + ": cannot load embedded model: " + err.Error())
	}
	return lin
}
