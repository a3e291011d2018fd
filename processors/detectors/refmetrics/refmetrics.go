package refmetrics

import (
	"encoding/binary"
	"math"
	"math/bits"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/sightline-dev/sightline/processors/detectors"
	"github.com/sightline-dev/sightline/processors/detectors/internal/textnorm"
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

var _ detectors.Detector = (*Detector)(nil)

// New returns a detector with cfg (zero fields take their defaults).
func New(cfg Config) *Detector {
	d := &Detector{cfg: cfg.withDefaults()}
	d.pool.New = func() any { return new(state) }
	return d
}

// Name returns "refmetrics".
func (d *Detector) Name() string { return "refmetrics" }

// Positions of the detector's outputs (Outputs).
const (
	OutRougeL = iota
	OutBLEU
	OutTokenF1
	OutExactMatch
	numOutputs // how many (Detect checks out against it without building Outputs)
)

// Outputs declares the detector's outputs: metrics without a decision,
// exported labelled "reference".
func Outputs() []detectors.Output {
	m := func(name string) detectors.Output {
		return detectors.Output{Name: name, Kind: detectors.Metric, Eval: &detectors.Eval{Name: name, Positive: "reference"}}
	}
	return []detectors.Output{OutRougeL: m("rouge_l"), OutBLEU: m("bleu"), OutTokenF1: m("token_f1"), OutExactMatch: m("exact_match")}
}

// Outputs declares the outputs.
func (d *Detector) Outputs() []detectors.Output { return Outputs() }

type state struct {
	tk            textnorm.Tokenizer
	cand, ref     []textnorm.Token
	candID, refID []uint32         // symbol ids of the bounded Plain tokens; 0 = not in the reference
	sym           textnorm.Counter // reference token hash -> symbol id
	masks         []uint64
	v             []uint64
	grams         gramTable
	squadBuf      []byte
	squadCand     []uint64
	squadRef      []uint64
	squadCount    textnorm.Counter
}

// Metrics are the reference metrics of one completion.
type Metrics struct {
	RougeL, BLEU, TokenF1, ExactMatch float64
}

// Detect implements detectors.Detector: with a non-blank reference it sets
// rouge_l, bleu, token_f1 and exact_match; without one it leaves them unset.
func (d *Detector) Detect(in *detectors.Input, out detectors.Out) error {
	if d.cfg.Disabled || in == nil || len(out) < numOutputs || strings.TrimSpace(in.Reference) == "" {
		return nil
	}
	m := d.Compute(in.Completion, in.Reference)
	out.Set(OutRougeL, m.RougeL)
	out.Set(OutBLEU, m.BLEU)
	out.Set(OutTokenF1, m.TokenF1)
	out.Set(OutExactMatch, m.ExactMatch)
	return nil
}

// Compute returns the metrics of candidate against reference.
//
// ROUGE-L and BLEU read textnorm.Plain tokens (lower case, split on every
// non-letter, non-digit character: the tokenizer of Google's rouge_score
// without stemming, except that non-ASCII letters are kept). TokenF1 and
// ExactMatch use the SQuAD normalization instead (see squadTokens).
//
// Each text is tokenized once: ROUGE-L and BLEU work on small integer
// symbol ids of the reference's tokens, and the SQuAD tokens reuse the Plain
// token hashes wherever a white-space word is one Plain token in ASCII
// punctuation, the common case.
func (d *Detector) Compute(candidate, reference string) Metrics {
	st := d.pool.Get().(*state)
	defer d.pool.Put(st)
	st.tk.Mode = textnorm.Plain
	st.cand = st.tk.Tokenize(st.cand[:0], candidate)
	st.ref = st.tk.Tokenize(st.ref[:0], reference)
	cand, ref := st.cand[:min(len(st.cand), d.cfg.MaxTokens)], st.ref[:min(len(st.ref), d.cfg.MaxTokens)]
	nsym := st.symbols(cand, ref)

	var m Metrics
	if len(cand) > 0 && len(ref) > 0 {
		m.RougeL = rougeL(lcsIDs(st, st.candID, st.refID, nsym), len(cand), len(ref))
	}
	m.BLEU = sentenceBLEU(st, st.candID, st.refID, nsym >= 1<<16)
	st.squadCand = squadTokens(st, st.squadCand[:0], candidate, st.cand, d.cfg.MaxTokens)
	st.squadRef = squadTokens(st, st.squadRef[:0], reference, st.ref, d.cfg.MaxTokens)
	m.TokenF1 = tokenF1(st, st.squadCand, st.squadRef)
	if equalHashes(st.squadCand, st.squadRef) {
		m.ExactMatch = 1
	}
	return m
}

// symbols numbers the distinct reference tokens 1..n, sets st.refID and
// st.candID (0 for a candidate token the reference lacks) and returns n.
func (st *state) symbols(cand, ref []textnorm.Token) int {
	st.sym.Reset(len(ref))
	st.refID = st.refID[:0]
	nsym := 0
	for _, t := range ref {
		id := st.sym.Get(t.Hash)
		if id == 0 {
			nsym++
			id = int32(nsym)
			st.sym.Add(t.Hash, id)
		}
		st.refID = append(st.refID, uint32(id))
	}
	st.candID = st.candID[:0]
	for _, t := range cand {
		st.candID = append(st.candID, uint32(st.sym.Get(t.Hash)))
	}
	return nsym
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

// rougeL is the ROUGE-L F-measure (Lin 2004) with β = 1:
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
func rougeL(lcs, nc, nr int) float64 {
	if lcs == 0 {
		return 0
	}
	p := float64(lcs) / float64(nc)
	r := float64(lcs) / float64(nr)
	return 2 * p * r / (p + r)
}

// lcsIDs is the bit-parallel LCS length of symbol sequences a and b, where
// b uses the ids 1..nsym and a id 0 for symbols b lacks.
func lcsIDs(st *state, a, b []uint32, nsym int) int {
	if len(b) == 0 {
		return 0
	}
	words := (len(b) + 63) / 64
	need := nsym * words
	if cap(st.masks) < need {
		st.masks = make([]uint64, need)
	}
	st.masks = st.masks[:need]
	clear(st.masks)
	for i, id := range b {
		st.masks[int(id-1)*words+i/64] |= 1 << (uint(i) % 64)
	}
	if words == 1 {
		// A reference of up to 64 tokens, the common case: one word, no carries.
		v := ^uint64(0)
		for _, id := range a {
			if id == 0 {
				continue
			}
			u := v & st.masks[id-1]
			v = (v + u) | (v &^ u)
		}
		if len(b) < 64 {
			v &= (1 << uint(len(b))) - 1
		}
		return len(b) - bits.OnesCount64(v)
	}
	if cap(st.v) < words {
		st.v = make([]uint64, words)
	}
	v := st.v[:words]
	for i := range v {
		v[i] = ^uint64(0)
	}
	for _, id := range a {
		if id == 0 {
			continue // no match: V is unchanged
		}
		m := st.masks[int(id-1)*words : int(id)*words]
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
//
// N-grams are keys of up to four 16-bit symbol ids packed into a uint64,
// exact and without hashing (wide: hashed, for references with 65536 or
// more distinct tokens). A candidate n-gram is looked up only while its
// (n−1)-gram prefix occurs in the reference, since every n-gram of the
// reference has its prefix there too.
func sentenceBLEU(st *state, cand, ref []uint32, wide bool) float64 {
	if len(cand) == 0 || len(ref) == 0 {
		return 0
	}
	t := &st.grams
	t.reset(maxOrder * len(ref))
	for i := range ref {
		var k uint64
		for n := 0; n < maxOrder && i+n < len(ref); n++ {
			k = gramKey(k, ref[i+n], wide)
			t.ref[t.insert(k)]++
		}
	}
	var matches [maxOrder]int
	for i := range cand {
		var k uint64
		for n := 0; n < maxOrder && i+n < len(cand); n++ {
			id := cand[i+n]
			if id == 0 {
				break
			}
			k = gramKey(k, id, wide)
			j := t.find(k)
			if j < 0 {
				break
			}
			t.cand[j]++
			if t.cand[j] <= t.ref[j] {
				matches[n]++ // clipped: at most the reference's count
			}
		}
	}
	var logSum float64
	for n := 1; n <= maxOrder; n++ {
		total := max(0, len(cand)-n+1)
		den := float64(max(1, total))
		if n == 1 && matches[0] == 0 {
			return 0
		}
		p := float64(matches[n-1]) / den
		if matches[n-1] == 0 {
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

// gramKey extends the key of an n-gram by one symbol id (ids are >= 1, so
// keys of different orders differ and are never 0).
func gramKey(k uint64, id uint32, wide bool) uint64 {
	if !wide {
		return k<<16 | uint64(id)
	}
	h := (k ^ uint64(id)) * 0xC2B2AE3D27D4EB4F
	h ^= h >> 31
	return h | 1
}

// gramTable counts n-grams of the reference and clipped matches of the
// candidate in one open-addressing table (linear probing, Fibonacci
// hashing), reused across events.
type gramTable struct {
	keys      []uint64 // 0 = empty
	ref, cand []int32
	shift     uint
}

func (t *gramTable) reset(n int) {
	size, lg := 16, uint(4)
	for size < 2*n {
		size <<= 1
		lg++
	}
	if cap(t.keys) >= size {
		t.keys, t.ref, t.cand = t.keys[:size], t.ref[:size], t.cand[:size]
		clear(t.keys)
		clear(t.ref)
		clear(t.cand)
	} else {
		t.keys, t.ref, t.cand = make([]uint64, size), make([]int32, size), make([]int32, size)
	}
	t.shift = 64 - lg
}

// insert returns the slot of k, claiming an empty one if k is new. The
// table holds at most half as many keys as slots (reset's n bounds them).
func (t *gramTable) insert(k uint64) int {
	mask := len(t.keys) - 1
	i := int((k * 0x9E3779B97F4A7C15) >> t.shift)
	for {
		switch t.keys[i] {
		case k:
			return i
		case 0:
			t.keys[i] = k
			return i
		}
		i = (i + 1) & mask
	}
}

// find returns the slot of k, or -1.
func (t *gramTable) find(k uint64) int {
	mask := len(t.keys) - 1
	i := int((k * 0x9E3779B97F4A7C15) >> t.shift)
	for {
		switch t.keys[i] {
		case k:
			return i
		case 0:
			return -1
		}
		i = (i + 1) & mask
	}
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
//
// toks are the Plain tokens of s. A white-space word that is one ASCII Plain
// token of at most 64 bytes with only ASCII punctuation around it
// normalizes to that token's bytes, whose hash Tokenize already computed
// (HashBytes hashes alike); other words are normalized here.
func squadTokens(st *state, dst []uint64, s string, toks []textnorm.Token, max int) []uint64 {
	// Plain tokens never hold white space, so words end only in the gaps
	// between tokens: scan the gaps and jump over the tokens.
	ws, wt := 0, 0 // current word's start and first token
	clean := true  // the current word's bytes outside tokens are ASCII punctuation
	pos := 0
	for k := 0; k <= len(toks); k++ {
		end := len(s)
		if k < len(toks) {
			end = int(toks[k].Start)
		}
		for j := pos; j < end; {
			c := s[j]
			size := 1
			if c < utf8.RuneSelf {
				if !asciiSpace[c] {
					clean = clean && isPunct(c)
					j++
					continue
				}
			} else {
				var r rune
				r, size = utf8.DecodeRuneInString(s[j:])
				if !unicode.IsSpace(r) {
					clean = false
					j += size
					continue
				}
			}
			if len(dst) >= max {
				return dst
			}
			dst = squadEmit(st, dst, s, ws, j, toks[wt:k], clean)
			j += size
			ws, wt, clean = j, k, true
		}
		if k < len(toks) {
			pos = int(toks[k].End)
		}
	}
	if len(dst) < max {
		dst = squadEmit(st, dst, s, ws, len(s), toks[wt:], clean)
	}
	return dst
}

// asciiSpace is str.split's ASCII white space.
var asciiSpace = [utf8.RuneSelf]bool{' ': true, '\t': true, '\n': true, '\r': true, '\v': true, '\f': true, 0x1c: true, 0x1d: true, 0x1e: true, 0x1f: true}

// squadEmit appends the SQuAD token of the word s[ws:we], which holds the
// Plain tokens toks. A word that is one ASCII token of at most 64 bytes (the
// Tokenizer's bound) with only ASCII punctuation around it (clean)
// normalizes to that token's bytes, whose hash Tokenize already computed
// (HashBytes hashes alike); a clean word without tokens is empty.
func squadEmit(st *state, dst []uint64, s string, ws, we int, toks []textnorm.Token, clean bool) []uint64 {
	if ws == we || (clean && len(toks) == 0) {
		return dst
	}
	if clean && len(toks) == 1 {
		if t := toks[0]; t.End-t.Start <= 64 && isASCII(s[t.Start:t.End]) {
			if !isArticleFold(s[t.Start:t.End]) {
				dst = append(dst, t.Hash)
			}
			return dst
		}
	}
	return squadWord(st, dst, s[ws:we])
}

func isASCII(s string) bool {
	for len(s) >= 8 {
		if binary.LittleEndian.Uint64([]byte(s[:8]))&0x8080808080808080 != 0 {
			return false
		}
		s = s[8:]
	}
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// squadWord appends the hash of the SQuAD normal form of the white-space
// free word w unless it is empty or an article.
func squadWord(st *state, dst []uint64, s string) []uint64 {
	w := st.squadBuf[:0]
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			i++
			switch {
			case c >= 'A' && c <= 'Z':
				w = append(w, c+'a'-'A')
			case isPunct(c):
			default:
				w = append(w, c)
			}
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if r == utf8.RuneError && size == 1 {
			w = append(w, s[i-1]) // keep invalid bytes as they are, like a byte string
			continue
		}
		w = utf8.AppendRune(w, unicode.ToLower(r))
	}
	if len(w) > 0 && !isArticle(w) {
		dst = append(dst, textnorm.HashBytes(w))
	}
	st.squadBuf = w[:0]
	return dst
}

// isArticleFold reports whether the ASCII word w is a, an or the in any case.
func isArticleFold(w string) bool {
	switch len(w) {
	case 1:
		return w[0]|0x20 == 'a'
	case 2:
		return w[0]|0x20 == 'a' && w[1]|0x20 == 'n'
	case 3:
		return w[0]|0x20 == 't' && w[1]|0x20 == 'h' && w[2]|0x20 == 'e'
	}
	return false
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
