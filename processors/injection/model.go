package injection

import (
	"io"
	"sync"

	"github.com/sightline-dev/sightline/processors/internal/hashing"
)

// Model is a trained prompt-injection classifier: logistic regression over
// hashed word unigrams, bigrams and character n-grams of the normalized
// prompt plus one dense feature per cue category (see cues.go). It is safe
// for concurrent use.
type Model struct {
	lin *hashing.Linear
}

var magic = [4]byte{'S', 'L', 'P', 'I'}

// WriteTo writes the model in its compact gzip form.
func (m *Model) WriteTo(w io.Writer) (int64, error) { return m.lin.WriteTo(w, magic) }

// ReadModel reads a model written by (*Model).WriteTo.
func ReadModel(r io.Reader) (*Model, error) {
	lin, err := hashing.ReadLinear(r, magic)
	if err != nil {
		return nil, err
	}
	return &Model{lin: lin}, nil
}

type scratch struct {
	norm  []byte
	feats []uint32
	cats  []uint8
	cues  cueMatch
}

var scratchPool = sync.Pool{New: func() any {
	return &scratch{norm: make([]byte, 0, 4096), feats: make([]uint32, 0, 8192), cats: make([]uint8, 0, numCategories)}
}}

const maxScoreBytes = 64 << 10

// Score returns the probability in [0,1] that text is a prompt-injection or
// jailbreak attempt. Text longer than 64 KiB is scored on its first 64 KiB.
func (m *Model) Score(text string) float64 {
	s := scratchPool.Get().(*scratch)
	z := m.margin(s, text)
	scratchPool.Put(s)
	return hashing.Sigmoid(z)
}

func (m *Model) margin(s *scratch, text string) float64 {
	if len(text) > maxScoreBytes {
		text = text[:maxScoreBytes]
	}
	s.norm = hashing.Normalize(s.norm[:0], text)
	s.feats = m.lin.Features.Extract(s.feats[:0], s.norm)
	s.cues.reset()
	matchCues(&s.cues, s.norm)
	s.cats = s.cues.appendCats(s.cats[:0])
	return m.lin.MarginExtra(s.feats, s.cats)
}

// MaxEvidence bounds how many phrases Evidence returns.
const MaxEvidence = 8

// Evidence appends to dst up to k (at most MaxEvidence) phrases that drove
// the score of text: the cue phrases that matched, strongest category first,
// then, if room is left, the words whose learned weights pushed hardest
// toward an attack. Cue phrases are the canonical strings of the cue list,
// not copies of the text.
func (m *Model) Evidence(dst []string, text string, k int) []string {
	s := scratchPool.Get().(*scratch)
	defer scratchPool.Put(s)
	m.margin(s, text)
	return m.evidence(dst, s, k)
}

func (m *Model) evidence(dst []string, s *scratch, k int) []string {
	k = min(k, MaxEvidence)
	start := len(dst)
	// Cue categories by descending weight (insertion sort over at most 12).
	var order [numCategories]int
	n := 0
	for c := 0; c < numCategories; c++ {
		if !s.cues.cats[c] || int(c) >= len(m.lin.Extra) || m.lin.Extra[c] <= 0 {
			continue
		}
		order[n] = c
		for i := n; i > 0 && m.lin.Extra[order[i]] > m.lin.Extra[order[i-1]]; i-- {
			order[i], order[i-1] = order[i-1], order[i]
		}
		n++
	}
	for i := 0; i < n && len(dst)-start < k; i++ {
		dst = append(dst, s.cues.phrases[order[i]])
	}
	if len(dst)-start >= k {
		return dst
	}
	// Then the strongest words of the hashed part.
	var best [MaxEvidence]struct {
		w    float64
		s, e int
	}
	nb := 0
	room := k - (len(dst) - start)
	f := m.lin.Features
	for i := 0; ; {
		ws, we, ok := hashing.NextWord(s.norm, i)
		if !ok {
			break
		}
		i = we
		if hasDigit(s.norm[ws:we]) || hashing.IsStopword(s.norm[ws:we]) {
			continue
		}
		s.feats = f.WordFeatures(s.feats[:0], s.norm[ws:we])
		var w float64
		for _, b := range s.feats {
			w += m.lin.Weight(b)
		}
		if w <= 0 {
			continue
		}
		dup := false
		for j := 0; j < nb; j++ {
			if string(s.norm[best[j].s:best[j].e]) == string(s.norm[ws:we]) {
				dup = true
				break
			}
		}
		if dup {
			continue
		}
		if nb < room {
			best[nb].w, best[nb].s, best[nb].e = w, ws, we
			nb++
		} else if w > best[nb-1].w {
			best[nb-1].w, best[nb-1].s, best[nb-1].e = w, ws, we
		} else {
			continue
		}
		for j := nb - 1; j > 0 && best[j].w > best[j-1].w; j-- {
			best[j], best[j-1] = best[j-1], best[j]
		}
	}
	for j := 0; j < nb; j++ {
		dst = append(dst, string(s.norm[best[j].s:best[j].e]))
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
