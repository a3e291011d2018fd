package scoring

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"

	"github.com/sightline-dev/sightline/processors/detector"
	"github.com/sightline-dev/sightline/schemas"
)

// JSONScores is the "scores" object `sightline eval` adds to each event.
// Optional scores are null when there was nothing to check.
type JSONScores struct {
	CompletionToxicity *float64 `json:"completion_toxicity"`
	PromptToxicity     *float64 `json:"prompt_toxicity"`
	ToxicityEvidence   []string `json:"toxicity_evidence"`
	Hallucination      *float64 `json:"hallucination"`
	Grounding          *float64 `json:"grounding"`
	UnsupportedSpans   []string `json:"unsupported_spans"`
	RougeL             *float64 `json:"rouge_l"`
	BLEU               *float64 `json:"bleu"`
	TokenF1            *float64 `json:"token_f1"`
	ExactMatch         *float64 `json:"exact_match"`
	PII                []string `json:"pii"`
	PromptInjection    *float64 `json:"prompt_injection"`
	InjectionEvidence  []string `json:"injection_evidence"`
	Refusal            bool     `json:"refusal"`
	RefusalConfidence  *float64 `json:"refusal_confidence"`
	DetectorErrors     []string `json:"detector_errors,omitempty"`
}

func ptr(o detector.Opt) *float64 {
	if !o.Valid {
		return nil
	}
	v := o.Value
	return &v
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// ToJSONScores converts scores to their JSON form.
func ToJSONScores(s *detector.Scores, failed []string) JSONScores {
	return JSONScores{
		CompletionToxicity: ptr(s.CompletionToxicity), PromptToxicity: ptr(s.PromptToxicity),
		ToxicityEvidence: nonNil(s.ToxicityEvidence), Hallucination: ptr(s.Hallucination), Grounding: ptr(s.Grounding),
		UnsupportedSpans: nonNil(s.UnsupportedSpans), RougeL: ptr(s.RougeL), BLEU: ptr(s.BLEU), TokenF1: ptr(s.TokenF1),
		ExactMatch: ptr(s.ExactMatch), PII: nonNil(s.PIIKinds), PromptInjection: ptr(s.PromptInjection),
		InjectionEvidence: nonNil(s.InjectionEvidence), Refusal: s.Refusal, RefusalConfidence: ptr(s.RefusalConfidence),
		DetectorErrors: failed,
	}
}

type scoredEvent struct {
	*schemas.JSONEvent
	Scores JSONScores `json:"scores"`
}

type lineError struct {
	Line  int    `json:"line"`
	Error string `json:"error"`
}

// Report summarises an eval run.
type Report struct {
	Lines, Scored, Errors int
	// Rates over scored events (checkable ones for hallucination).
	ToxicCompletions, Hallucinated, Checkable, WithPII, Injections, Refusals int
	MeanCompletionToxicity, MeanHallucination                                float64
}

// EvalJSONL scores every event of r (the JSON form, one per line) and
// writes each back to w with a "scores" object. A malformed line becomes
// {"line": N, "error": "..."} and the run goes on. Events need not be
// complete: offline slices are scored as they are.
func EvalJSONL(r io.Reader, w io.Writer, s *Scorer, toxicThreshold, injectionThreshold float64) (Report, error) {
	var rep Report
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), schemas.MaxEncodedBytes)
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	var scores detector.Scores
	var sumTox, sumHal float64
	for sc.Scan() {
		rep.Lines++
		line := sc.Bytes()
		if len(trimSpace(line)) == 0 {
			continue
		}
		ev, err := schemas.ParseJSON(line)
		if err != nil {
			rep.Errors++
			if err := enc.Encode(lineError{Line: rep.Lines, Error: err.Error()}); err != nil {
				return rep, fmt.Errorf("cannot write output: %w", err)
			}
			continue
		}
		schemas.Truncate(ev)
		failed := s.Score(ev, &scores)
		rep.Scored++
		if scores.CompletionToxicity.Valid {
			sumTox += scores.CompletionToxicity.Value
			if scores.CompletionToxicity.Value >= toxicThreshold {
				rep.ToxicCompletions++
			}
		}
		if scores.Hallucination.Valid {
			rep.Checkable++
			sumHal += scores.Hallucination.Value
			if scores.Hallucination.Value >= 0.5 {
				rep.Hallucinated++
			}
		}
		if len(scores.PIIKinds) > 0 {
			rep.WithPII++
		}
		if scores.PromptInjection.Valid && scores.PromptInjection.Value >= injectionThreshold {
			rep.Injections++
		}
		if scores.Refusal {
			rep.Refusals++
		}
		if err := enc.Encode(scoredEvent{JSONEvent: schemas.ToJSON(ev), Scores: ToJSONScores(&scores, failed)}); err != nil {
			return rep, fmt.Errorf("cannot write output: %w", err)
		}
	}
	if err := sc.Err(); err != nil {
		bw.Flush()
		return rep, fmt.Errorf("cannot read input at line %d: %w", rep.Lines+1, err)
	}
	if rep.Scored > 0 {
		rep.MeanCompletionToxicity = sumTox / float64(rep.Scored)
	}
	if rep.Checkable > 0 {
		rep.MeanHallucination = sumHal / float64(rep.Checkable)
	}
	return rep, bw.Flush()
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r') {
		b = b[1:]
	}
	return b
}
