package toxicity

import (
	"github.com/sightline-dev/sightline/processors/internal/hashing"
)

// MaxEvidence bounds how many terms Evidence returns.
const MaxEvidence = 8

// span is a candidate evidence term: bytes [s,e) of the normalized text and
// how much it pushed the score toward toxic.
type span struct {
	w    float64
	s, e int
}

// Evidence appends to dst up to k (at most MaxEvidence) distinct terms or
// two-word phrases of text that pushed its score toward toxic the most,
// strongest first, in normalized (lowercased) form. Terms containing digits
// are never reported, so numbers such as phone or account numbers cannot leak
// into the scores; common function words are skipped as uninformative.
func (m *Model) Evidence(dst []string, text string, k int) []string {
	s := scratchPool.Get().(*scratch)
	defer scratchPool.Put(s)
	if len(text) > maxScoreBytes {
		text = text[:maxScoreBytes]
	}
	s.norm = hashing.Normalize(s.norm[:0], text)
	return m.evidence(dst, s, k)
}

// evidence works on s.norm as left by margin. A word's push is the sum of
// the weights of its own features (word and character n-grams); a phrase's
// is its bigram weight. Only positive pushes count.
func (m *Model) evidence(dst []string, s *scratch, k int) []string {
	k = min(k, MaxEvidence)
	if k <= 0 {
		return dst
	}
	var top [MaxEvidence]span
	n := 0
	add := func(c span) {
		if c.w <= 0 || hasDigit(s.norm[c.s:c.e]) || hashing.IsStopword(s.norm[c.s:c.e]) {
			return
		}
		for i := 0; i < n; i++ {
			if string(s.norm[top[i].s:top[i].e]) == string(s.norm[c.s:c.e]) {
				if c.w > top[i].w {
					top[i].w = c.w
					for i > 0 && top[i].w > top[i-1].w {
						top[i], top[i-1] = top[i-1], top[i]
						i--
					}
				}
				return
			}
		}
		if n < k {
			top[n] = c
			n++
		} else if c.w > top[n-1].w {
			top[n-1] = c
		} else {
			return
		}
		for i := n - 1; i > 0 && top[i].w > top[i-1].w; i-- {
			top[i], top[i-1] = top[i-1], top[i]
		}
	}
	f := m.lin.Features
	prevS, prevE := -1, -1
	for i := 0; ; {
		ws, we, ok := hashing.NextWord(s.norm, i)
		if !ok {
			break
		}
		i = we
		s.feats = f.WordFeatures(s.feats[:0], s.norm[ws:we])
		var w float64
		for _, b := range s.feats {
			w += m.lin.Weight(b)
		}
		add(span{w: w, s: ws, e: we})
		if prevS >= 0 {
			add(span{w: m.lin.Weight(f.BigramFeature(s.norm[prevS:prevE], s.norm[ws:we])), s: prevS, e: we})
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
