// Package detector defines the contract between the score stage and the
// per-event detectors under processors/<name>.
//
// A detector is one package implementing Detector. It must be safe for
// concurrent use, must never panic on any input (invalid UTF-8, huge
// strings, empty fields), must not log event content, and must never put a
// raw PII value into Scores. A detector that cannot score an event returns an
// error; the stage then marks that score missing and counts it.
package detector

// Input is the text view of one event that detectors score. Strings are
// read-only; detectors must not retain them after Detect returns.
type Input struct {
	// Prompt is the concatenated content of all prompt messages.
	Prompt string
	// Question is the content of the last user message (for RAG checks the
	// question's own terms count as supported).
	Question string
	// Completion is the concatenated content of all completion messages.
	Completion string
	// Context holds the retrieved passages (RAG), if any.
	Context []string
	// Reference is the expected answer, if any.
	Reference string
}

// Opt is an optional score: Valid is false when the detector had nothing
// to score (e.g. hallucination without context or reference).
type Opt struct {
	Value float64
	Valid bool
}

// Set stores v and marks the score valid.
func (o *Opt) Set(v float64) { o.Value, o.Valid = v, true }

// Scores is everything the detectors produce for one event. Each detector
// fills only its own fields.
type Scores struct {
	CompletionToxicity Opt
	PromptToxicity     Opt
	// ToxicityEvidence lists the terms/phrases that drove the completion
	// toxicity score, most influential first (bounded, a few items).
	ToxicityEvidence []string

	// Hallucination is the risk in [0,1] that the completion is not
	// supported by the context/reference; invalid when not checkable.
	Hallucination Opt
	// Grounding is the supported fraction of the completion's content.
	Grounding Opt
	// UnsupportedSpans are the claims/entities/numbers of the completion that
	// the context does not support (bounded).
	UnsupportedSpans []string

	RougeL     Opt
	BLEU       Opt
	TokenF1    Opt
	ExactMatch Opt

	// PIIKinds lists the kinds of personal data found (e.g. "email"),
	// sorted and unique; never the values.
	PIIKinds []string

	PromptInjection Opt
	// InjectionEvidence lists the phrases that drove the injection score.
	InjectionEvidence []string

	Refusal           bool
	RefusalConfidence Opt
}

// Detector scores one event.
//
// Detect fills its fields of out. It returns an error only when it could not
// score the event; it must not panic.
type Detector interface {
	Name() string
	Detect(in *Input, out *Scores) error
}
