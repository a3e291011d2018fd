package registry_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/sightline-dev/sightline/processors/detectors"
	"github.com/sightline-dev/sightline/processors/detectors/registry"
)

// What an entry declares is what its detector declares once built, with
// the threshold its settings give: the columns, rates and labels that
// follow the declaration are the ones the detector writes.
func TestEntriesDeclareWhatTheirDetectorsWrite(t *testing.T) {
	reg := registry.Default()
	dets, err := reg.Build(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(dets) != len(reg) {
		t.Fatalf("built %d detectors of %d", len(dets), len(reg))
	}
	for i, d := range dets {
		if !reflect.DeepEqual(d.Outputs(), reg[i].Outputs) {
			t.Errorf("%s: built detector declares %+v, entry %+v", d.Name(), d.Outputs(), reg[i].Outputs)
		}
	}
	settings := map[string]registry.Settings{}
	for _, e := range reg {
		for _, o := range e.Outputs {
			if o.Threshold > 0 { // the entries with a threshold to set
				settings[e.Name] = registry.Settings{Threshold: 0.7}
			}
		}
	}
	if len(settings) < 4 {
		t.Fatalf("thresholds found in %d entries, want at least toxicity, hallucination, prompt_injection and refusal", len(settings))
	}
	dets, err = reg.Build(settings)
	if err != nil {
		t.Fatal(err)
	}
	var built []detectors.Output
	for _, d := range dets {
		built = append(built, d.Outputs()...)
	}
	if want := reg.Outputs(settings); !reflect.DeepEqual(built, want) {
		t.Errorf("with thresholds set, the detectors declare\n%+v\nthe registry\n%+v", built, want)
	}
	for _, o := range built {
		if o.Threshold != 0 && o.Threshold != 0.7 {
			t.Errorf("%s keeps threshold %v after detectors.<name>.threshold = 0.7", o.Name, o.Threshold)
		}
	}
}

// The outputs keep the columns, eval keys and rates they had before they
// were declared (the llm_events columns of migration 0002, the keys of
// `sightline eval`, the window's rates), in their order. A detector added
// later adds its own among them without failing this test.
func TestDefaultOutputs(t *testing.T) {
	s, err := registry.Schema(nil)
	if err != nil {
		t.Fatal(err)
	}
	var names, keys, rates []string
	for _, o := range s.Outputs() {
		names, keys = append(names, o.Name), append(keys, o.JSONKey())
		if o.Rate != "" {
			rates = append(rates, o.Rate)
		}
	}
	for _, c := range []struct {
		got  []string
		want string
	}{
		{names, "completion_toxicity prompt_toxicity toxicity_evidence hallucination grounding unsupported_spans " +
			"rouge_l bleu token_f1 exact_match pii_kinds prompt_injection injection_evidence refusal refusal_confidence"},
		{keys, "completion_toxicity prompt_toxicity toxicity_evidence hallucination grounding unsupported_spans " +
			"rouge_l bleu token_f1 exact_match pii prompt_injection injection_evidence refusal refusal_confidence"},
		{rates, "toxicity hallucination pii prompt_injection refusal"},
	} {
		if !inOrder(c.got, strings.Fields(c.want)) {
			t.Errorf("got  %s\nwant %s among them, in this order", strings.Join(c.got, " "), c.want)
		}
	}
	if got := []string{"a", "c", "b"}; inOrder(got, []string{"a", "b", "c"}) || !inOrder(got, []string{"a", "b"}) {
		t.Fatal("inOrder is wrong")
	}
}

// inOrder reports whether want is a subsequence of got.
func inOrder(got, want []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}

func TestValidate(t *testing.T) {
	for _, c := range []struct {
		settings map[string]registry.Settings
		err      string
	}{
		{map[string]registry.Settings{"toxicity": {Threshold: 0.6}, "hallucination": {Threshold: 0.4}, "refusal": {Threshold: 0.9}}, ""},
		{map[string]registry.Settings{"refmetrics": {Threshold: 0.5}}, "detectors.refmetrics.threshold: this detector has no threshold"},
		{map[string]registry.Settings{"toxicity": {Threshold: 1.5}}, "detectors.toxicity.threshold"},
		{map[string]registry.Settings{"toxicity": {Kinds: []string{"email"}}}, "detectors.toxicity.kinds"},
		{map[string]registry.Settings{"pii": {Kinds: []string{"nope"}}}, "detectors.pii.kinds"},
		{map[string]registry.Settings{"nope": {}}, "unknown detector nope"},
	} {
		err := registry.Validate(c.settings)
		if (err == nil) != (c.err == "") || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("%v: got %v, want %q", c.settings, err, c.err)
		}
	}
	// A declaration that cannot be stored or counted is refused.
	bad := append(registry.Default(), registry.Entry{Name: "dup", Outputs: []detectors.Output{{Name: "refusal", Kind: detectors.Flag}}})
	if err := bad.Validate(nil); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("an output named like another: %v", err)
	}
	bad = append(registry.Default(), registry.Entry{Name: "norate", Outputs: []detectors.Output{{Name: "x", Kind: detectors.Metric, Rate: "x"}}})
	if err := bad.Validate(nil); err == nil || !strings.Contains(err.Error(), "rate needs a decision") {
		t.Errorf("a rate without a decision: %v", err)
	}
}
