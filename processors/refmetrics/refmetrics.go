package refmetrics

import (
	"math"
	"math/bits"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/sightline-dev/sightline/processors/detector"
	"github.com/sightline-dev/sightline/processors/internal/textnorm"
)

// Config configures the detector. The zero value is the default.
type Config struct {
	// Disabled turns the detector off. Default false.
	Disabled bool
	// MaxTokens bounds the tokens read from the completion and from the
	// reference; ROUGE-L costs O(n·m/64), so this bounds the worst case.
	// Default 4096.
	MaxTokens int
}

func (c Config) withDefaults() Config {
	if c.MaxTokens <= 0 {
		c.MaxTokens = 4096
	}
	return c
}

// Detector computes reference-based metrics of the completion. It is safe
// for concurrent use.
type Detector struct {
	cfg  Config
	pool sync.Pool
}

var _ detector.Detector = (*Detector)(nil)

// New returns a detector with cfg (zero fields take their defaults).
func New(cfg Config) *Detector {
	d := &Detector{cfg: cfg.withDefaults()}
	d.pool.New = func() any { return new(state) }
	return d
}

// Name returns "refmetrics".
func (d *Detector) Name() string { return "refmetrics" }

type state struct {
	tk         textnorm.Tokenizer
	cand, ref  []textnorm.Token
	candH      []uint64
	refH       []uint64
	sym        textnorm.Counter // reference token hash -> symbol id + 1
	masks      []uint64
	v          []uint64
	refGrams   textnorm.Counter
	candGrams  textnorm.Counter
	squadBuf   []byte
	squadCand  []uint64
	squadRef   []uint64
	squadCount textnorm.Counter
}

// Metrics are the reference metrics of one completion.
type Metrics struct {
	RougeL, BLEU, TokenF1, ExactMatch float64
}

// Detect implements detector.Detector: with a non-blank reference it sets
// RougeL, BLEU, TokenF1 and ExactMatch; without one it leaves them invalid.
func (d *Detector) Detect(in *detector.Input, out *detector.Scores) error {
	if d.cfg.Disabled || in == nil || out == nil || strings.TrimSpace(in.Reference) == "" {
		return nil
	}
	m := d.Compute(in.Completion, in.Reference)
	out.RougeL.Set(m.RougeL)
	out.BLEU.Set(m.BLEU)
	out.TokenF1.Set(m.TokenF1)
	out.ExactMatch.Set(m.ExactMatch)
	return nil
}

// Compute returns the metrics of candidate against reference.
//
// ROUGE-L and BLEU read textnorm.Plain tokens (lower case, split on every
// non-letter, non-digit character: the tokenizer of Google's rouge_score
// without stemming, except that non-ASCII letters are kept). TokenF1 and
// ExactMatch use the SQuAD normalization instead (see squadTokens).
func (d *Detector) Compute(candidate, reference string) Metrics {
	st := d.pool.Get().(*state)
	defer d.pool.Put(st)
	st.tk.Mode = textnorm.Plain
	st.cand = st.tk.Tokenize(st.cand[:0], candidate)
	st.ref = st.tk.Tokenize(st.ref[:0], reference)
	st.candH = hashes(st.candH[:0], st.cand, d.cfg.MaxTokens)
	st.refH = hashes(st.refH[:0], st.ref, d.cfg.MaxTokens)

	var m Metrics
	m.RougeL = RougeLF1(st, st.candH, st.refH)
	m.BLEU = sentenceBLEU(st, st.candH, st.refH)
	st.squadCand = squadTokens(st, st.squadCand[:0], candidate, d.cfg.MaxTokens)
	st.squadRef = squadTokens(st, st.squadRef[:0], reference, d.cfg.MaxTokens)
	m.TokenF1 = tokenF1(st, st.squadCand, st.squadRef)
	if equalHashes(st.squadCand, st.squadRef) {
		m.ExactMatch = 1
	}
	return m
}

func hashes(dst []uint64, toks []textnorm.Token, max int) []uint64 {
	if len(toks) > max {
		toks = toks[:max]
	}
	for _, t := range toks {
		dst = append(dst, t.Hash)
	}
	return dst
}

func equalHashes(a, b []uint64) bool {
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
func RougeLF1(st *state, cand, ref []uint64) float64 {
	if len(cand) == 0 || len(ref) == 0 {
		return 0
	}
	lcs := lcsLen(st, cand, ref)
	if lcs == 0 {
		return 0
	}
	p := float64(lcs) / float64(len(cand))
	r := float64(lcs) / float64(len(ref))
	return 2 * p * r / (p + r)
}

func lcsLen(st *state, a, b []uint64) int {
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

// maxOrder is BLEU's maximum n-gram order (uniform weights 1/4).
const maxOrder = 4

// bleuEpsilon is the numerator given to an n-gram order without matches
// (Chen and Cherry 2014, smoothing method 1; NLTK's SmoothingFunction().method1
// with its default epsilon 0.1).
const bleuEpsilon = 0.1

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
func sentenceBLEU(st *state, cand, ref []uint64) float64 {
	if len(cand) == 0 || len(ref) == 0 {
		return 0
	}
	st.refGrams.Reset(maxOrder * len(ref))
	for n := 1; n <= maxOrder; n++ {
		for i := 0; i+n <= len(ref); i++ {
			st.refGrams.Add(gramHash(ref[i:i+n]), 1)
		}
	}
	st.candGrams.Reset(maxOrder * len(cand))
	var logSum float64
	for n := 1; n <= maxOrder; n++ {
		matches, total := 0, 0
		for i := 0; i+n <= len(cand); i++ {
			total++
			g := gramHash(cand[i : i+n])
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
func gramHash(g []uint64) uint64 {
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
func tokenF1(st *state, cand, ref []uint64) float64 {
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
func squadTokens(st *state, dst []uint64, s string, max int) []uint64 {
	w := st.squadBuf[:0]
	flush := func() {
		if len(w) > 0 && !isArticle(w) && len(dst) < max {
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
			case isPunct(c):
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

func isArticle(w []byte) bool {
	switch string(w) {
	case "a", "an", "the":
		return true
	}
	return false
}

// isPunct reports whether c is in Python's string.punctuation.
func isPunct(c byte) bool {
	return c >= '!' && c <= '/' || c >= ':' && c <= '@' || c >= '[' && c <= '`' || c >= '{' && c <= '~'
}
