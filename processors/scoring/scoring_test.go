package scoring_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/sightline-dev/sightline/processors/detector"
	"github.com/sightline-dev/sightline/processors/registry"
	"github.com/sightline-dev/sightline/processors/scoring"
	"github.com/sightline-dev/sightline/schemas/eventpb"
)

// benchEvent has ~1 KB of prompt and completion and ~2 KB of context.
func benchEvent() *eventpb.Event {
	ctx1 := strings.Repeat("The Eiffel Tower was completed in 1889 for the World's Fair in Paris and is 330 metres tall. ", 11)
	ctx2 := strings.Repeat("Gustave Eiffel's company designed and built the tower, which remained the tallest structure until 1930, when the Chrysler Building surpassed it. ", 7)
	return &eventpb.Event{
		Prompt: []*eventpb.Message{
			{Role: "system", Content: "Answer using only the documents. Be concise and cite facts."},
			{Role: "user", Content: "When was the Eiffel Tower completed, how tall is it, and who built it? " + strings.Repeat("Please include dates and numbers from the documents. ", 8)},
		},
		Completion: []*eventpb.Message{{Role: "assistant", Content: "The Eiffel Tower was completed in 1889 for the World's Fair. It is 330 metres tall and was built by Gustave Eiffel's company. " +
			strings.Repeat("It remained the tallest structure in the world until 1930, when the Chrysler Building surpassed it. ", 3)}},
		Context:   []string{ctx1, ctx2},
		Reference: "It was completed in 1889, is 330 metres tall and was built by Gustave Eiffel's company.",
	}
}

func TestAllDetectorsScoreAnEvent(t *testing.T) {
	dets, err := registry.Build(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(dets) != len(registry.Names()) {
		t.Fatalf("built %d detectors of %d", len(dets), len(registry.Names()))
	}
	s := scoring.New(dets, nil)
	var out detector.Scores
	ev := benchEvent()
	ev.Completion[0].Content += " Contact me at jane.doe@example.com."
	if failed := s.Score(ev, &out); len(failed) > 0 {
		t.Fatalf("detectors failed: %v", failed)
	}
	for name, o := range map[string]detector.Opt{
		"completion_toxicity": out.CompletionToxicity, "prompt_toxicity": out.PromptToxicity,
		"hallucination": out.Hallucination, "grounding": out.Grounding, "rouge_l": out.RougeL, "bleu": out.BLEU,
		"token_f1": out.TokenF1, "exact_match": out.ExactMatch, "prompt_injection": out.PromptInjection,
		"refusal_confidence": out.RefusalConfidence,
	} {
		if !o.Valid || o.Value < 0 || o.Value > 1 {
			t.Errorf("%s = %+v", name, o)
		}
	}
	if out.Hallucination.Value > 0.5 || out.CompletionToxicity.Value > 0.5 || out.PromptInjection.Value > 0.5 || out.Refusal {
		t.Errorf("a grounded, polite answer scored %+v", out)
	}
	if len(out.PIIKinds) != 1 || out.PIIKinds[0] != "email" {
		t.Errorf("pii kinds %v", out.PIIKinds)
	}
	for _, e := range append(append(out.UnsupportedSpans, out.ToxicityEvidence...), out.InjectionEvidence...) {
		if strings.Contains(e, "jane.doe") || strings.Contains(e, "@") {
			t.Errorf("evidence stores a raw PII value: %q", e)
		}
	}
}

type failing struct{ panics bool }

func (f failing) Name() string { return "refusal" }
func (f failing) Detect(_ *detector.Input, out *detector.Scores) error {
	out.Refusal = true
	if f.panics {
		panic("boom")
	}
	return errors.New("broken")
}

func TestFailingDetectorMarksScoreMissing(t *testing.T) {
	for _, panics := range []bool{false, true} {
		var seen []string
		s := scoring.New([]detector.Detector{failing{panics}}, func(name string, _ error) { seen = append(seen, name) })
		var out detector.Scores
		failed := s.Score(benchEvent(), &out)
		if len(failed) != 1 || len(seen) != 1 || out.Refusal || out.RefusalConfidence.Valid {
			t.Fatalf("panics=%v: failed %v seen %v scores %+v", panics, failed, seen, out)
		}
	}
}

func TestNothingToCheckIsNull(t *testing.T) {
	dets, _ := registry.Build(nil)
	var out detector.Scores
	scoring.New(dets, nil).Score(&eventpb.Event{Completion: []*eventpb.Message{{Content: "hello"}}}, &out)
	if out.Hallucination.Valid || out.RougeL.Valid || out.BLEU.Valid {
		t.Fatalf("scores without context or reference must be null: %+v", out)
	}
}
