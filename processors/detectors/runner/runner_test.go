package runner_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/sightline-dev/sightline/processors/detectors"
	"github.com/sightline-dev/sightline/processors/detectors/refusal"
	"github.com/sightline-dev/sightline/processors/detectors/registry"
	"github.com/sightline-dev/sightline/processors/detectors/runner"
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
	s := runner.New(dets, nil)
	var out detectors.Scores
	ev := benchEvent()
	ev.Completion[0].Content += " Contact me at jane.doe@example.com."
	if failed := s.Score(ev, &out); len(failed) > 0 {
		t.Fatalf("detectors failed: %v", failed)
	}
	for _, name := range []string{"completion_toxicity", "prompt_toxicity", "hallucination", "grounding", "rouge_l", "bleu",
		"token_f1", "exact_match", "prompt_injection", "refusal_confidence"} {
		if o, _ := out.Get(name); !o.Valid || o.Num < 0 || o.Num > 1 {
			t.Errorf("%s = %+v", name, o)
		}
	}
	get := func(name string) detectors.Value { v, _ := out.Get(name); return v }
	if get("hallucination").Num > 0.5 || get("completion_toxicity").Num > 0.5 || get("prompt_injection").Num > 0.5 || get("refusal").Num != 0 {
		t.Errorf("a grounded, polite answer scored %+v", out.Values)
	}
	if kinds := get("pii_kinds").List; len(kinds) != 1 || kinds[0] != "email" {
		t.Errorf("pii kinds %v", kinds)
	}
	for _, name := range []string{"unsupported_spans", "toxicity_evidence", "injection_evidence"} {
		for _, e := range get(name).List {
			if strings.Contains(e, "jane.doe") || strings.Contains(e, "@") {
				t.Errorf("evidence stores a raw PII value: %q", e)
			}
		}
	}
}

type failing struct{ panics bool }

func (f failing) Name() string                { return "refusal" }
func (f failing) Outputs() []detectors.Output { return refusal.Outputs() }
func (f failing) Detect(_ *detectors.Input, out detectors.Out) error {
	out.SetFlag(refusal.OutRefusal, true)
	if f.panics {
		panic("boom")
	}
	return errors.New("broken")
}

func TestFailingDetectorMarksScoreMissing(t *testing.T) {
	for _, panics := range []bool{false, true} {
		var seen []string
		s := runner.New([]detectors.Detector{failing{panics}}, func(name string, _ error) { seen = append(seen, name) })
		var out detectors.Scores
		failed := s.Score(benchEvent(), &out)
		if r, _ := out.Get("refusal"); len(failed) != 1 || len(seen) != 1 || r.Valid || r.Num != 0 {
			t.Fatalf("panics=%v: failed %v seen %v scores %+v", panics, failed, seen, out)
		}
	}
}

func TestNothingToCheckIsNull(t *testing.T) {
	dets, _ := registry.Build(nil)
	var out detectors.Scores
	runner.New(dets, nil).Score(&eventpb.Event{Completion: []*eventpb.Message{{Content: "hello"}}}, &out)
	h, _ := out.Get("hallucination")
	r, _ := out.Get("rouge_l")
	b, _ := out.Get("bleu")
	if h.Valid || r.Valid || b.Valid {
		t.Fatalf("scores without context or reference must be null: %+v", out)
	}
}
