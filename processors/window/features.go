package window

import (
	"math"
	"slices"

	"github.com/sightline-dev/sightline/processors/stats"
)

// Outcomes: binary per-event outcomes counted as positives of trials. The
// order is part of the encoding (segment groups list their counts in it).
const (
	outToxicity = iota
	outHallucination
	outRefusal
	outPII
	outInjection
	outError
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"toxicity", "hallucination", "refusal", "pii", "prompt_injection", "error"}

// OutcomeNames lists the outcomes in their fixed order.
func OutcomeNames() []string { return append([]string(nil), outcomeNames[:]...) }

func outcomeIndex(name string) int {
	for i, n := range outcomeNames {
		if n == name {
			return i
		}
	}
	return -1
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

var numericDefs = [numNumeric]numericDef{
	numLatency:            {"latency_ms", 1e-3, logEdges(0, 6, 8)},
	numTTFT:               {"ttft_ms", 1e-3, logEdges(0, 6, 8)},
	numInputTokens:        {"input_tokens", 1, logEdges(0, 6, 8)},
	numOutputTokens:       {"output_tokens", 1, logEdges(0, 6, 8)},
	numTotalTokens:        {"total_tokens", 1, logEdges(0, 6, 8)},
	numCost:               {"cost_usd", 1e-9, logEdges(-7, 2, 6)},
	numPromptChars:        {"prompt_chars", 1, logEdges(0, 7, 6)},
	numCompletionChars:    {"completion_chars", 1, logEdges(0, 7, 6)},
	numContextChars:       {"context_chars", 1, logEdges(0, 7, 6)},
	numTokensPerSecond:    {"output_tokens_per_second", 1e-3, logEdges(-1, 4, 8)},
	numCompletionToxicity: {"completion_toxicity", 1e-6, scoreEdges},
	numPromptToxicity:     {"prompt_toxicity", 1e-6, scoreEdges},
	numHallucination:      {"hallucination_risk", 1e-6, scoreEdges},
	numInjection:          {"prompt_injection_score", 1e-6, scoreEdges},
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
