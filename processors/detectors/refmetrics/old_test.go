package refmetrics

import (
	"math"
	"math/bits"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/sightline-dev/sightline/processors/detectors/internal/textnorm"
)

// FuzzSameAsOld checks the rewrite against the previous implementation:
// the same metrics, bit for bit.
func FuzzSameAsOld(f *testing.F) {
	for _, c := range refCases {
		f.Add(c.cand, c.ref)
	}
	f.Add("\xff\xfe the", "\xff")
	f.Add("“The” U.S. 6.213 km — don't", "the us 6213 km dont")
	f.Add(strings.Repeat("a b ", 3000), strings.Repeat("b a ", 2000))
	f.Add(strings.Repeat("x", 100)+" an", strings.Repeat("x", 70)+".An")
	d := New(Config{MaxTokens: 512})
	d7 := New(Config{MaxTokens: 7})
	var st oldState
	f.Fuzz(func(t *testing.T, cand, ref string) {
		for _, d := range []*Detector{d, d7} {
			got := d.Compute(cand, ref)
			want := oldCompute(&st, cand, ref, d.cfg.MaxTokens)
			if got != want && !(math.IsNaN(got.BLEU) && math.IsNaN(want.BLEU)) {
				t.Fatalf("Compute(%q, %q) max %d = %+v, old %+v", cand, ref, d.cfg.MaxTokens, got, want)
			}
		}
	})
}

// oldState and the old* functions are the implementation before the
// single-tokenization rewrite, kept to check that the rewrite computes the
// same metrics (FuzzSameAsOld).
type oldState struct {
	tk         textnorm.Tokenizer
	cand, ref  []textnorm.Token
	candH      []uint64
	refH       []uint64
	sym        textnorm.Counter
	masks      []uint64
	v          []uint64
	refGrams   textnorm.Counter
	candGrams  textnorm.Counter
	squadBuf   []byte
	squadCand  []uint64
	squadRef   []uint64
	squadCount textnorm.Counter
}

func oldCompute(st *oldState, candidate, reference string, maxTokens int) Metrics {
	st.tk.Mode = textnorm.Plain
	st.cand = st.tk.Tokenize(st.cand[:0], candidate)
	st.ref = st.tk.Tokenize(st.ref[:0], reference)
	st.candH = oldHashes(st.candH[:0], st.cand, maxTokens)
	st.refH = oldHashes(st.refH[:0], st.ref, maxTokens)
	var m Metrics
	m.RougeL = oldRougeLF1(st, st.candH, st.refH)
	m.BLEU = oldSentenceBLEU(st, st.candH, st.refH)
	st.squadCand = oldSquadTokens(st, st.squadCand[:0], candidate, maxTokens)
	st.squadRef = oldSquadTokens(st, st.squadRef[:0], reference, maxTokens)
	m.TokenF1 = oldTokenF1(st, st.squadCand, st.squadRef)
	if oldEqualHashes(st.squadCand, st.squadRef) {
		m.ExactMatch = 1
	}
	return m
}

func oldHashes(dst []uint64, toks []textnorm.Token, max int) []uint64 {
	if len(toks) > max {
		toks = toks[:max]
	}
	for _, t := range toks {
		dst = append(dst, t.Hash)
	}
	return dst
}

func oldEqualHashes(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// RougeLF1 returns the ROUGE-L F-measure (Lin 2004) with β = 1:
//
//	P = LCS(c, r) / |c|,  R = LCS(c, r) / |r|,  F = 2PR / (P + R),
//
// and 0 when either sequence is empty or LCS is 0.
//
// The LCS length is computed with the bit-parallel algorithm of Allison and
// Dix (1986) in the form of Hyyrö (2004): one bit per reference position,
// V' = (V + (V & M[c])) | (V &^ M[c]) per candidate token, LCS = number of
// zero bits of V, in O(|c|·⌈|r|/64⌉) word operations instead of the
// O(|c|·|r|) table.
func oldRougeLF1(st *oldState, cand, ref []uint64) float64 {
	if len(cand) == 0 || len(ref) == 0 {
		return 0
	}
	lcs := oldLcsLen(st, cand, ref)
	if lcs == 0 {
		return 0
	}
	p := float64(lcs) / float64(len(cand))
	r := float64(lcs) / float64(len(ref))
	return 2 * p * r / (p + r)
}

func oldLcsLen(st *oldState, a, b []uint64) int {
	words := (len(b) + 63) / 64
	st.sym.Reset(len(b))
	nsym := 0
	for _, h := range b {
		if st.sym.Get(h) == 0 {
			nsym++
			st.sym.Add(h, int32(nsym))
		}
	}
	need := nsym * words
	if cap(st.masks) < need {
		st.masks = make([]uint64, need)
	}
	st.masks = st.masks[:need]
	clear(st.masks)
	for i, h := range b {
		id := int(st.sym.Get(h)) - 1
		st.masks[id*words+i/64] |= 1 << (uint(i) % 64)
	}
	if cap(st.v) < words {
		st.v = make([]uint64, words)
	}
	v := st.v[:words]
	for i := range v {
		v[i] = ^uint64(0)
	}
	for _, h := range a {
		id := int(st.sym.Get(h)) - 1
		if id < 0 {
			continue // no match: V is unchanged
		}
		m := st.masks[id*words : id*words+words]
		var carry uint64
		for k := range v {
			u := v[k] & m[k]
			sum, c := bits.Add64(v[k], u, carry)
			carry = c
			v[k] = sum | (v[k] &^ u)
		}
	}
	ones := 0
	for k, x := range v {
		if k == words-1 && len(b)%64 != 0 {
			x &= (1 << (uint(len(b)) % 64)) - 1
		}
		ones += bits.OnesCount64(x)
	}
	return len(b) - ones
}

// sentenceBLEU returns sentence BLEU (Papineni et al. 2002) of cand against
// one reference with uniform weights over 1..4-grams and Chen–Cherry
// method 1 smoothing, matching nltk.translate.bleu_score.sentence_bleu(
// [ref], cand, smoothing_function=SmoothingFunction().method1):
//
//	p_n = (clipped n-gram matches) / max(1, candidate n-grams)
//	p_n = 0.1 / max(1, candidate n-grams)      if there are no matches
//	BP  = 1 if |c| > |r| else exp(1 − |r|/|c|)
//	BLEU = BP · exp(Σ_n ¼ ln p_n),
//
// and 0 when no unigram matches or the candidate is empty (as NLTK).
func oldSentenceBLEU(st *oldState, cand, ref []uint64) float64 {
	if len(cand) == 0 || len(ref) == 0 {
		return 0
	}
	st.refGrams.Reset(maxOrder * len(ref))
	for n := 1; n <= maxOrder; n++ {
		for i := 0; i+n <= len(ref); i++ {
			st.refGrams.Add(oldGramHash(ref[i:i+n]), 1)
		}
	}
	st.candGrams.Reset(maxOrder * len(cand))
	var logSum float64
	for n := 1; n <= maxOrder; n++ {
		matches, total := 0, 0
		for i := 0; i+n <= len(cand); i++ {
			total++
			g := oldGramHash(cand[i : i+n])
			if st.candGrams.Add(g, 1) <= st.refGrams.Get(g) {
				matches++
			}
		}
		den := float64(max(1, total))
		if n == 1 && matches == 0 {
			return 0
		}
		p := float64(matches) / den
		if matches == 0 {
			p = bleuEpsilon / den
		}
		logSum += math.Log(p) / maxOrder
	}
	c, r := float64(len(cand)), float64(len(ref))
	bp := 1.0
	if c <= r {
		bp = math.Exp(1 - r/c)
	}
	return bp * math.Exp(logSum)
}

// gramHash combines token hashes into an n-gram hash; the order n is part of
// the hash through the number of rounds.
func oldGramHash(g []uint64) uint64 {
	h := uint64(len(g)) * 0x9E3779B97F4A7C15
	for _, x := range g {
		h = (h ^ x) * 0xC2B2AE3D27D4EB4F
		h ^= h >> 31
	}
	return h
}

// tokenF1 is SQuAD's token F1: with common = |multiset(c) ∩ multiset(r)|,
// P = common/|c|, R = common/|r|, F1 = 2PR/(P+R); 0 when nothing is common;
// when either side has no tokens, 1 if both are empty, else 0 (the SQuAD 2.0
// evaluation script).
func oldTokenF1(st *oldState, cand, ref []uint64) float64 {
	if len(cand) == 0 || len(ref) == 0 {
		if len(cand) == len(ref) {
			return 1
		}
		return 0
	}
	st.squadCount.Reset(len(ref))
	for _, h := range ref {
		st.squadCount.Add(h, 1)
	}
	common := 0
	for _, h := range cand {
		if st.squadCount.Get(h) > 0 {
			st.squadCount.Add(h, -1)
			common++
		}
	}
	if common == 0 {
		return 0
	}
	p := float64(common) / float64(len(cand))
	r := float64(common) / float64(len(ref))
	return 2 * p * r / (p + r)
}

// squadTokens appends the hashes of the SQuAD-normalized tokens of s: lower
// case, ASCII punctuation (Python's string.punctuation) removed, split on
// white space, the articles a, an, the dropped. Python's regex \b(a|an|the)\b
// also drops an article glued to non-ASCII punctuation ("“the"); such cases
// keep the article here.
func oldSquadTokens(st *oldState, dst []uint64, s string, max int) []uint64 {
	w := st.squadBuf[:0]
	flush := func() {
		if len(w) > 0 && !oldIsArticle(w) && len(dst) < max {
			dst = append(dst, textnorm.HashBytes(w))
		}
		w = w[:0]
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			i++
			switch {
			case c >= 'A' && c <= 'Z':
				w = append(w, c+'a'-'A')
			case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' || (c >= 0x1c && c <= 0x1f):
				flush()
			case oldIsPunct(c):
			default:
				w = append(w, c)
			}
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if unicode.IsSpace(r) {
			flush()
			continue
		}
		if r == utf8.RuneError && size == 1 {
			w = append(w, s[i-1]) // keep invalid bytes as they are, like a byte string
			continue
		}
		w = utf8.AppendRune(w, unicode.ToLower(r))
	}
	flush()
	st.squadBuf = w[:0]
	return dst
}

func oldIsArticle(w []byte) bool {
	switch string(w) {
	case "a", "an", "the":
		return true
	}
	return false
}

// isPunct reports whether c is in Python's string.punctuation.
func oldIsPunct(c byte) bool {
	return c >= '!' && c <= '/' || c >= ':' && c <= '@' || c >= '[' && c <= '`' || c >= '{' && c <= '~'
}
