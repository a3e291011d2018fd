package hallucination

import (
	"strings"
	"sync"

	"github.com/sightline-dev/sightline/processors/detectors"
	"github.com/sightline-dev/sightline/processors/detectors/internal/textnorm"
	"github.com/sightline-dev/sightline/schemas"
)

// Config configures the detector. The zero value is the default.
type Config struct {
	// Disabled turns the detector off: Detect then leaves every field
	// invalid. Default false.
	Disabled bool
	// MaxSpans bounds unsupported_spans. Default 8; negative means
	// no spans are reported.
	MaxSpans int
	// MaxSpanBytes bounds the length of one reported span (cut at a rune
	// boundary). Default 80.
	MaxSpanBytes int
	// MaxInputBytes bounds the bytes of each text read (completion, each
	// passage, reference, question); the rest is ignored so one huge event
	// cannot stall the stage. Default 64 KiB.
	MaxInputBytes int
	// Threshold is the risk at or above which a completion counts as a
	// hallucination, in its windowed rate, `sightline eval` and the
	// exported label (default 0.5). The detector's scores do not depend
	// on it.
	Threshold float64
}

func (c Config) withDefaults() Config {
	if c.Threshold <= 0 || c.Threshold > 1 {
		c.Threshold = DefaultThreshold
	}
	if c.MaxSpans == 0 {
		c.MaxSpans = 8
	}
	if c.MaxSpans < 0 {
		c.MaxSpans = 0
	}
	if c.MaxSpanBytes <= 0 {
		c.MaxSpanBytes = 80
	}
	if c.MaxInputBytes <= 0 {
		c.MaxInputBytes = 64 << 10
	}
	return c
}

// Detector scores hallucination risk against retrieved context and/or the
// reference answer. It is safe for concurrent use.
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

// Positions of the detector's outputs (Outputs).
const (
	OutRisk        = iota // hallucination
	OutGrounding          // grounding
	OutUnsupported        // unsupported_spans
	numOutputs            // how many (Detect checks out against it without building Outputs)
)

// DefaultThreshold is the risk at or above which a completion counts as a
// hallucination (detectors.hallucination.threshold).
const DefaultThreshold = 0.5

// Outputs declares the detector's outputs with the default threshold.
func Outputs() []detectors.Output { return outputs(DefaultThreshold) }

func outputs(threshold float64) []detectors.Output {
	return []detectors.Output{
		OutRisk: {Name: "hallucination", Kind: detectors.Probability, Threshold: threshold, Rate: "hallucination",
			// Spans quote the completion: only their number is exported.
			Eval: &detectors.Eval{Name: "hallucination", Positive: "unsupported", Negative: "supported", Explanation: "unsupported_spans", CountOnly: true}},
		OutGrounding:   {Name: "grounding", Kind: detectors.Metric},
		OutUnsupported: {Name: "unsupported_spans", Kind: detectors.Evidence},
	}
}

// Outputs declares the outputs with the detector's threshold.
func (d *Detector) Outputs() []detectors.Output { return outputs(d.cfg.Threshold) }

// Name returns "hallucination".
func (d *Detector) Name() string { return "hallucination" }

// state is the per-call scratch space, pooled so a warm Detect allocates
// only the evidence strings it returns.
type state struct {
	tk       textnorm.Tokenizer
	toks     []textnorm.Token
	support  textnorm.Set
	question textnorm.Set
	pairs    textnorm.Set // adjacent content-token pairs of evidence and question
}

// Token weights: a wrong number or name is a stronger sign of a made-up
// claim than a wrong common word, and one- or two-letter fragments ("s",
// "tv") are weak evidence either way.
const (
	weightWord   = 1.0
	weightName   = 1.5
	weightNumber = 2.0
	weightShort  = 0.5
	// echoRisk is the risk of a completion whose content words all come
	// from the question: it asserts nothing checkable beyond picking among
	// the question's terms, which lexical support cannot verify.
	echoRisk = 0.15
	// pairWeight scales the share of known words put together in a way
	// the evidence never does ("Panama City Air Force Base" from "Panama
	// City" and "Tyndall Air Force Base"): weaker evidence than an unknown
	// word, because paraphrase also recombines words.
	pairWeight = 0.6
)

// Result is the detailed outcome of Score.
type Result struct {
	// Risk is the hallucination risk in [0,1].
	Risk float64
	// Grounding is the supported weighted fraction of the completion's
	// content tokens in [0,1] (question terms count as supported).
	Grounding float64
	// Spans are the unsupported spans of the completion (bounded).
	Spans []string
	// Valid is false when there was nothing to check against.
	Valid bool
}

// Detect implements detectors.Detector. It fills hallucination, grounding
// and unsupported_spans when there is something to check against.
func (d *Detector) Detect(in *detectors.Input, out detectors.Out) error {
	if d.cfg.Disabled || in == nil || len(out) < numOutputs {
		return nil
	}
	r := d.Score(in.Completion, in.Question, in.Prompt, in.Context, in.Reference)
	if !r.Valid {
		return nil
	}
	out.Set(OutRisk, r.Risk)
	out.Set(OutGrounding, r.Grounding)
	out.SetList(OutUnsupported, r.Spans)
	return nil
}

// Score computes the risk that completion states content that context and
// reference do not support.
//
// Every completion token that is not a stopword is a content token with a
// weight w (numbers 2, capitalized words inside a sentence 1.5, one- or
// two-letter tokens 0.5, other words 1). A token is supported when its
// normalized form occurs in a context passage or the reference, and counts as
// an echo when it occurs in the question (or, if question is empty, the
// prompt), else as supported when it occurs in a context passage or the
// reference. With U the weight of the unsupported tokens, S of the supported
// ones and E of the echoes,
//
//	Grounding = (S + E) / (S + E + U)
//	Risk      = U / (S + U)          if S + U > 0
//	Risk      = echoRisk             if the completion only echoes the question
//
// Echoes are left out of Risk on purpose: a long answer that restates the
// question must score like the short answer it contains, so the score does
// not depend on answer length, only on the share of new content that the
// evidence does not support.
func (d *Detector) Score(completion, question, prompt string, context []string, reference string) Result {
	hasEvidence := strings.TrimSpace(reference) != ""
	for _, c := range context {
		if strings.TrimSpace(c) != "" {
			hasEvidence = true
			break
		}
	}
	if !hasEvidence {
		return Result{}
	}
	st := d.pool.Get().(*state)
	defer d.pool.Put(st)
	st.tk.Mode = textnorm.Content
	maxIn := d.cfg.MaxInputBytes

	// Evidence tokens.
	n := len(reference)
	for _, c := range context {
		n += len(c)
	}
	st.support.Reset(n / 6)
	st.pairs.Reset(n / 5)
	for _, c := range context {
		c = schemas.CutUTF8(c, maxIn)
		st.toks = st.tk.Tokenize(st.toks[:0], c)
		addEvidence(&st.support, &st.pairs, c, st.toks)
	}
	reference = schemas.CutUTF8(reference, maxIn)
	st.toks = st.tk.Tokenize(st.toks[:0], reference)
	addEvidence(&st.support, &st.pairs, reference, st.toks)

	q := question
	if strings.TrimSpace(q) == "" {
		q = prompt
	}
	q = schemas.CutUTF8(q, maxIn)
	st.toks = st.tk.Tokenize(st.toks[:0], q)
	st.question.Reset(len(st.toks))
	addEvidence(&st.question, &st.pairs, q, st.toks)

	completion = schemas.CutUTF8(completion, maxIn)
	st.toks = st.tk.Tokenize(st.toks[:0], completion)

	var sup, echo, uns float64
	var pairsSeen, pairsNew float64
	var spans []string
	prev := -1         // index of the previous content token in the same clause
	prevKnown := false // whether it is in the evidence or the question
	spanStart, spanEnd := -1, -1
	flush := func() {
		if spanStart >= 0 && len(spans) < d.cfg.MaxSpans {
			spans = append(spans, strings.Clone(schemas.CutUTF8(completion[spanStart:spanEnd], d.cfg.MaxSpanBytes)))
		}
		spanStart, spanEnd = -1, -1
	}
	for i, t := range st.toks {
		if t.Has(textnorm.Stop) {
			continue
		}
		supported := st.support.Has(t.Hash)
		if !supported && framingSet.Has(t.Hash) {
			flush()
			prev = -1
			continue
		}
		if prev >= 0 && clauseBreak(completion, st.toks[prev].End, t.Start) {
			prev = -1
			flush()
		}
		w := weight(t)
		echoed := st.question.Has(t.Hash)
		known := !echoed && supported
		if known || echoed {
			// Both words are known; is their combination?
			if prev >= 0 && prevKnown {
				pairsSeen++
				if !st.pairs.Has(pairHash(st.toks[prev].Hash, t.Hash)) {
					pairsNew++
				}
			}
		}
		prev, prevKnown = i, supported || echoed
		switch {
		case echoed:
			echo += w
			flush()
		case known:
			sup += w
			flush()
		default:
			uns += w
			if spanStart < 0 {
				spanStart = int(t.Start)
			}
			spanEnd = int(t.End)
		}
	}
	flush()

	res := Result{Valid: true, Spans: spans}
	total := sup + echo + uns
	if total == 0 {
		// Nothing but stopwords: no claim to check.
		res.Grounding, res.Risk = 1, echoRisk
		return res
	}
	res.Grounding = (sup + echo) / total
	if sup+uns == 0 {
		res.Risk = echoRisk
	} else {
		res.Risk = uns / (sup + uns)
	}
	if pairsSeen > 0 {
		res.Risk = 1 - (1-res.Risk)*(1-pairWeight*pairsNew/pairsSeen)
	}
	return res
}

// framing holds the normalized hashes of words that frame an answer rather
// than claim anything ("the answer is", "according to the passage", "based
// on the information provided"); they count as neither supported nor
// unsupported, so a polite long answer is not penalized for its manners.
var framingSet textnorm.Set

var _ = func() bool {
	framingSet.Reset(64)
	words := "answer answers source sources say says said state states stated mention mentions mentioned " +
		"according context passage passages document documents information provided provide based text " +
		"article question given correct indeed therefore known sure certainly note noted respond response " +
		"summary summarize short briefly"
	var tk textnorm.Tokenizer
	tk.Mode = textnorm.Content
	for _, t := range tk.Tokenize(nil, words) {
		framingSet.Add(t.Hash)
	}
	return true
}()

func weight(t textnorm.Token) float64 {
	switch {
	case t.Has(textnorm.Number):
		return weightNumber
	case t.End-t.Start <= 2:
		return weightShort
	case t.Has(textnorm.Upper) && !t.Has(textnorm.Initial):
		return weightName
	}
	return weightWord
}

// addEvidence adds the content tokens of s to set and the hashes of their
// adjacent pairs within one clause to pairs.
func addEvidence(set, pairs *textnorm.Set, s string, toks []textnorm.Token) {
	var prev textnorm.Token
	havePrev := false
	for _, t := range toks {
		if t.Has(textnorm.Stop) {
			continue
		}
		set.Add(t.Hash)
		if havePrev && !clauseBreak(s, prev.End, t.Start) {
			pairs.Add(pairHash(prev.Hash, t.Hash))
		}
		prev, havePrev = t, true
	}
}

func pairHash(a, b uint64) uint64 { return (a*0x9e3779b97f4a7c15 + 0x632be59bd9b4e019) ^ b }

// clauseBreak reports whether s[from:to] holds clause punctuation, where
// adjacency of the words around it says nothing about their relation.
func clauseBreak(s string, from, to int32) bool {
	if from < 0 || to > int32(len(s)) || from > to {
		return true
	}
	for i := from; i < to; i++ {
		if clausePunct[s[i]] {
			return true
		}
	}
	return false
}

var clausePunct = [256]bool{'.': true, ',': true, ';': true, ':': true, '!': true, '?': true, '(': true, ')': true, '"': true, '\n': true}
