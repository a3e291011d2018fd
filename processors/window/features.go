package window

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/sightline-dev/sightline/processors/detectors"
	"github.com/sightline-dev/sightline/processors/detectors/registry"
	"github.com/sightline-dev/sightline/processors/stats"
)

// maxOutcomes bounds the outcomes a partial counts (arrays of this size
// keep partials, A/B statistics and experiments plain values).
const maxOutcomes = 16

// ErrorOutcome is the outcome the window counts itself: calls that
// returned an error. Every other outcome is a detector output's Rate.
const ErrorOutcome = "error"

// Outcome is a binary per-event outcome counted per window as positives
// of trials (a rate with its interval, bias across segment groups, A/B).
type Outcome struct {
	// Name is the signal name: a detector output's Rate, or "error".
	Name string
	// Threshold decides a probability output (positive at or above it);
	// 0 for flags, kinds and errors.
	Threshold float64
}

// OutcomesOf are the outcomes of detector outputs (each with a Rate, in
// order, with its threshold), then errors.
func OutcomesOf(outputs []detectors.Output) []Outcome {
	var out []Outcome
	for _, o := range outputs {
		if o.Rate != "" {
			out = append(out, Outcome{Name: o.Rate, Threshold: o.Threshold})
		}
	}
	return append(out, Outcome{Name: ErrorOutcome})
}

// DefaultOutcomes are the outcomes of the default detectors with their
// default thresholds.
func DefaultOutcomes() []Outcome { return slices.Clone(defaultOutcomes()) }

var defaultOutcomes = sync.OnceValue(func() []Outcome { return OutcomesOf(registry.Outputs(nil)) })

// OutcomeNames lists the default outcomes in their order.
func OutcomeNames() []string {
	var out []string
	for _, o := range DefaultOutcomes() {
		out = append(out, o.Name)
	}
	return out
}

// outcomeSet is an immutable, shared list of outcomes: layouts compare it
// by pointer (internOutcomes returns one pointer per list).
type outcomeSet struct {
	names      []string
	thresholds []float64
}

var (
	outcomeSetsMu sync.Mutex
	outcomeSets   = map[string]*outcomeSet{}
)

// internOutcomes returns the shared set of outs (at most maxOutcomes; the
// caller checks).
func internOutcomes(outs []Outcome) *outcomeSet {
	var b strings.Builder
	for _, o := range outs {
		fmt.Fprintf(&b, "%s\x00%v\x00", o.Name, o.Threshold)
	}
	k := b.String()
	outcomeSetsMu.Lock()
	defer outcomeSetsMu.Unlock()
	if s, ok := outcomeSets[k]; ok {
		return s
	}
	s := &outcomeSet{}
	for _, o := range outs {
		s.names = append(s.names, o.Name)
		s.thresholds = append(s.thresholds, o.Threshold)
	}
	if len(outcomeSets) < 256 { // bounded: sets come from configs and decoded partials
		outcomeSets[k] = s
	}
	return s
}

func (s *outcomeSet) len() int { return len(s.names) }

func (s *outcomeSet) index(name string) int {
	for i, n := range s.names {
		if n == name {
			return i
		}
	}
	return -1
}

func (s *outcomeSet) outcomes() []Outcome {
	out := make([]Outcome, len(s.names))
	for i := range s.names {
		out[i] = Outcome{s.names[i], s.thresholds[i]}
	}
	return out
}

// union is s followed by the outcomes of o that s lacks; ok is false when
// an outcome has different thresholds in the two (their counts mean
// different things) or the union has more than maxOutcomes.
func (s *outcomeSet) union(o *outcomeSet) (*outcomeSet, bool) {
	if s == o {
		return s, true
	}
	outs := s.outcomes()
	for i, n := range o.names {
		j := s.index(n)
		switch {
		case j < 0:
			outs = append(outs, Outcome{n, o.thresholds[i]})
		case s.thresholds[j] != o.thresholds[i]:
			return nil, false
		}
	}
	if len(outs) == s.len() {
		return s, true
	}
	if len(outs) > maxOutcomes {
		return nil, false
	}
	return internOutcomes(outs), true
}

// remap returns counts (in the order of from) in the order of to, which
// holds every outcome of from.
func remap[T any](counts [maxOutcomes]T, from, to *outcomeSet) [maxOutcomes]T {
	if from == to {
		return counts
	}
	var out [maxOutcomes]T
	for i, n := range from.names {
		out[to.index(n)] = counts[i]
	}
	return out
}

// Numeric features: each has a fixed-bin histogram (drift) and exact
// moments (A/B, means, totals).
const (
	numLatency = iota
	numTTFT
	numInputTokens
	numOutputTokens
	numTotalTokens
	numCost
	numPromptChars
	numCompletionChars
	numContextChars
	numTokensPerSecond
	numCompletionToxicity
	numPromptToxicity
	numHallucination
	numInjection
	numNumeric
)

type numericDef struct {
	name string
	// output is the detector output whose value the feature is ("": the
	// event's own number).
	output string
	// resolution of the exact fixed-point moments: q = round(x/resolution).
	resolution float64
	edges      []float64
}

// logEdges returns edges at perDecade steps per decade from 10^lo to 10^hi,
// rounded to 4 significant digits so that they print well.
func logEdges(lo, hi, perDecade int) []float64 {
	var e []float64
	for i := lo * perDecade; i <= hi*perDecade; i++ {
		v := math.Pow(10, float64(i)/float64(perDecade))
		p := math.Pow(10, math.Floor(math.Log10(v))-3)
		e = append(e, math.Round(v/p)*p)
	}
	return e
}

var scoreEdges = stats.LinearEdges(0, 1, 20)

// numericDefs: the event's own numbers, then detector scores. A score's
// drift is tracked when it has a line here naming its output (edges and
// resolution are this package's choice); its rate needs only the output's
// declared Rate.
var numericDefs = [numNumeric]numericDef{
	numLatency:            {"latency_ms", "", 1e-3, logEdges(0, 6, 8)},
	numTTFT:               {"ttft_ms", "", 1e-3, logEdges(0, 6, 8)},
	numInputTokens:        {"input_tokens", "", 1, logEdges(0, 6, 8)},
	numOutputTokens:       {"output_tokens", "", 1, logEdges(0, 6, 8)},
	numTotalTokens:        {"total_tokens", "", 1, logEdges(0, 6, 8)},
	numCost:               {"cost_usd", "", 1e-9, logEdges(-7, 2, 6)},
	numPromptChars:        {"prompt_chars", "", 1, logEdges(0, 7, 6)},
	numCompletionChars:    {"completion_chars", "", 1, logEdges(0, 7, 6)},
	numContextChars:       {"context_chars", "", 1, logEdges(0, 7, 6)},
	numTokensPerSecond:    {"output_tokens_per_second", "", 1e-3, logEdges(-1, 4, 8)},
	numCompletionToxicity: {"completion_toxicity", "completion_toxicity", 1e-6, scoreEdges},
	numPromptToxicity:     {"prompt_toxicity", "prompt_toxicity", 1e-6, scoreEdges},
	numHallucination:      {"hallucination_risk", "hallucination", 1e-6, scoreEdges},
	numInjection:          {"prompt_injection_score", "prompt_injection", 1e-6, scoreEdges},
}

// NumericFeatureNames lists the numeric features in their fixed order.
func NumericFeatureNames() []string {
	out := make([]string, numNumeric)
	for i, d := range numericDefs {
		out[i] = d.name
	}
	return out
}

// DefaultEdges returns a copy of the default histogram edges of a numeric
// feature, nil for an unknown name. Lengths, tokens, latency, cost and
// throughput use log-spaced edges (6 or 8 per decade; zero falls in the
// underflow bin), scores 20 equal bins over [0, 1].
func DefaultEdges(feature string) []float64 {
	i := numericIndex(feature)
	if i < 0 {
		return nil
	}
	return slices.Clone(numericDefs[i].edges)
}

func numericIndex(name string) int {
	for i, d := range numericDefs {
		if d.name == name {
			return i
		}
	}
	return -1
}

// Quantile sketches (DDSketch): values are clamped into [min, max] so that
// the number of bins, and so memory, is bounded by the config whatever the
// data (at 1% relative accuracy a decade is about 116 bins).
const (
	skLatency = iota
	skTTFT
	skInputTokens
	skOutputTokens
	skTotalTokens
	skCost
	numSketches
)

type sketchDef struct {
	name     string
	numeric  int // the numeric feature it summarises
	min, max float64
}

var sketchDefs = [numSketches]sketchDef{
	skLatency:      {"latency_ms", numLatency, 1e-2, 1e8},
	skTTFT:         {"ttft_ms", numTTFT, 1e-2, 1e8},
	skInputTokens:  {"input_tokens", numInputTokens, 1, 1e9},
	skOutputTokens: {"output_tokens", numOutputTokens, 1, 1e9},
	skTotalTokens:  {"total_tokens", numTotalTokens, 1, 1e9},
	skCost:         {"cost_usd", numCost, 1e-9, 1e6},
}

// SketchRelativeAccuracy is the relative accuracy of the quantile sketches.
const SketchRelativeAccuracy = 0.01

// Categorical features.
const (
	catFinishReason = iota
	catModel
	catScript
	catTopic
	numCategorical
)

var categoricalNames = [numCategorical]string{"finish_reason", "response_model", "prompt_script", "prompt_topic"}

// Scripts of the prompt, by the letters it contains most.
const (
	scriptLatin = iota
	scriptCyrillic
	scriptGreek
	scriptArabic
	scriptHebrew
	scriptCJK
	scriptDevanagari
	scriptOther
	numScripts
)

var scriptNames = [numScripts]string{"latin", "cyrillic", "greek", "arabic", "hebrew", "cjk", "devanagari", "other"}

// OtherGroup names the overflow group of capped groups and categories.
const OtherGroup = "__other__"

// maxLabelBytes bounds a kept group or category name.
const maxLabelBytes = 64
