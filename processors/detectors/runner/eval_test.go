package runner_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/sightline-dev/sightline/processors/detectors/registry"
	"github.com/sightline-dev/sightline/processors/detectors/runner"
)

func TestEvalJSONL(t *testing.T) {
	in := `{"prompt":[{"role":"user","content":"What year was the Eiffel Tower completed?"}],"completion":[{"role":"assistant","content":"It was completed in 1925 by Le Corbusier."}],"context":["The Eiffel Tower was completed in 1889 by Gustave Eiffel's company."],"reference":"1889","custom_field":"kept"}
this line is not JSON
{"completion":[{"role":"assistant","content":"Sure, here it is."}]}
`
	dets, err := registry.Build(nil)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rep, err := runner.EvalJSONL(strings.NewReader(in), &out, runner.New(dets, nil))
	if err != nil {
		t.Fatal(err)
	}
	rates := map[string]runner.RateCount{}
	for _, r := range rep.Rates {
		rates[r.Rate] = r
	}
	if h := rates["hallucination"]; rep.Lines != 3 || rep.Scored != 2 || rep.Errors != 1 || h.Trials != 1 || h.Positives != 1 || h.Threshold != 0.5 {
		t.Fatalf("report %+v", rep)
	}
	if r := rates["refusal"]; r.Trials != 2 || len(rep.Rates) != len(rateNames()) {
		t.Fatalf("every scored event is a refusal trial; one rate per declared rate %v: %+v", rateNames(), rep.Rates)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("want 3 output lines, got %d", len(lines))
	}
	var first struct {
		Attributes map[string]string `json:"attributes"`
		Scores     map[string]any    `json:"scores"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"completion_toxicity", "prompt_toxicity", "toxicity_evidence", "hallucination", "grounding", "unsupported_spans",
		"rouge_l", "bleu", "token_f1", "exact_match", "pii", "prompt_injection", "injection_evidence", "refusal", "refusal_confidence"} {
		if _, ok := first.Scores[k]; !ok {
			t.Errorf("scores lack %q", k)
		}
	}
	if first.Scores["hallucination"].(float64) < 0.5 || first.Attributes["custom_field"] != "kept" {
		t.Errorf("first event: %s", lines[0])
	}
	var bad struct {
		Line  int
		Error string
	}
	if err := json.Unmarshal([]byte(lines[1]), &bad); err != nil || bad.Line != 2 || bad.Error == "" {
		t.Errorf("error record %s", lines[1])
	}
	var third struct{ Scores map[string]any }
	json.Unmarshal([]byte(lines[2]), &third)
	if third.Scores["hallucination"] != nil || third.Scores["rouge_l"] != nil {
		t.Errorf("no context or reference: hallucination and reference metrics must be null: %s", lines[2])
	}
}

// rateNames are the windowed rates the default registry declares (today
// toxicity, hallucination, pii, prompt_injection and refusal).
func rateNames() []string {
	s, err := registry.Schema(nil)
	if err != nil {
		panic(err)
	}
	var out []string
	for _, o := range s.Outputs() {
		if o.Rate != "" {
			out = append(out, o.Rate)
		}
	}
	return out
}
