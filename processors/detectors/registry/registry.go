// Package registry is the list of detectors the binaries build: adding a
// detector is one package under processors/detectors/ and one entry in
// Default (see processors/detectors for the whole path). The list is a
// value built by the caller, never an init() side effect.
package registry

import (
	"fmt"
	"sort"
	"strings"

	"github.com/sightline-dev/sightline/processors/detectors"
	"github.com/sightline-dev/sightline/processors/detectors/hallucination"
	"github.com/sightline-dev/sightline/processors/detectors/injection"
	"github.com/sightline-dev/sightline/processors/detectors/pii"
	"github.com/sightline-dev/sightline/processors/detectors/refmetrics"
	"github.com/sightline-dev/sightline/processors/detectors/refusal"
	"github.com/sightline-dev/sightline/processors/detectors/toxicity"
)

// Settings of one detector in the config file (detectors.<name>).
type Settings struct {
	// Enabled defaults to true; set false to skip the detector (its
	// columns stay NULL, its rates have no trials).
	Enabled *bool `yaml:"enabled"`
	// Threshold is the detector's decision threshold where it has one (an
	// output with a default threshold); 0 keeps its default. The detector,
	// its windowed rate, `sightline eval` and the exported label use it.
	Threshold float64 `yaml:"threshold"`
	// Kinds restricts the pii detector to these kinds (default all).
	Kinds []string `yaml:"kinds"`
}

func (s Settings) enabled() bool { return s.Enabled == nil || *s.Enabled }

// Entry is one detector of a registry.
type Entry struct {
	Name string
	// Outputs are the detector's outputs with their default thresholds
	// (what the detector built with default settings declares).
	Outputs []detectors.Output
	// Kinds: the detector takes detectors.<name>.kinds.
	Kinds bool
	// Build makes the detector from its settings, which Validate checked.
	Build func(Settings) (detectors.Detector, error)
}

func (e Entry) hasThreshold() bool {
	for _, o := range e.Outputs {
		if o.Threshold > 0 {
			return true
		}
	}
	return false
}

// Registry is a list of detectors in the order they run, which is also
// the order of their outputs (columns, eval keys, windowed rates).
type Registry []Entry

// Default is the list of detectors the binaries build.
func Default() Registry {
	return Registry{
		{Name: "toxicity", Outputs: toxicity.Outputs(), Build: func(s Settings) (detectors.Detector, error) {
			return toxicity.New(toxicity.Config{Threshold: s.Threshold}), nil
		}},
		{Name: "hallucination", Outputs: hallucination.Outputs(), Build: func(s Settings) (detectors.Detector, error) {
			return hallucination.New(hallucination.Config{Threshold: s.Threshold}), nil
		}},
		{Name: "refmetrics", Outputs: refmetrics.Outputs(), Build: func(Settings) (detectors.Detector, error) {
			return refmetrics.New(refmetrics.Config{}), nil
		}},
		{Name: "pii", Outputs: pii.Outputs(), Kinds: true, Build: func(s Settings) (detectors.Detector, error) {
			set, err := piiKinds(s.Kinds)
			if err != nil {
				return nil, err
			}
			return pii.New(pii.Config{Kinds: set}), nil
		}},
		{Name: "prompt_injection", Outputs: injection.Outputs(), Build: func(s Settings) (detectors.Detector, error) {
			return injection.New(injection.Config{Threshold: s.Threshold}), nil
		}},
		{Name: "refusal", Outputs: refusal.Outputs(), Build: func(s Settings) (detectors.Detector, error) {
			return refusal.New(refusal.Config{Threshold: s.Threshold}), nil
		}},
	}
}

// Names lists the known detectors in run order.
func (r Registry) Names() []string {
	out := make([]string, len(r))
	for i, e := range r {
		out[i] = e.Name
	}
	return out
}

func piiKinds(names []string) (pii.KindSet, error) {
	set, err := pii.ParseKinds(names)
	if err != nil {
		return 0, fmt.Errorf("detectors.pii.kinds: %w", err)
	}
	return set, nil
}

// Validate checks the declarations of every detector's outputs and the
// settings without building anything: settings for unknown names, bad
// thresholds and unknown PII kinds are errors that name the config key.
func (r Registry) Validate(settings map[string]Settings) error {
	if _, err := detectors.SchemaOf(r.Outputs(nil)); err != nil {
		return err
	}
	known := map[string]Entry{}
	for _, e := range r {
		known[e.Name] = e
	}
	var unknown []string
	for name, s := range settings {
		e, ok := known[name]
		if !ok {
			unknown = append(unknown, name)
			continue
		}
		if s.Threshold != 0 && !e.hasThreshold() {
			return fmt.Errorf("detectors.%s.threshold: this detector has no threshold", name)
		}
		if s.Threshold < 0 || s.Threshold > 1 {
			return fmt.Errorf("detectors.%s.threshold: must be in (0, 1], got %v", name, s.Threshold)
		}
		if len(s.Kinds) > 0 && !e.Kinds {
			return fmt.Errorf("detectors.%s.kinds: only the pii detector takes kinds", name)
		}
		if _, err := piiKinds(s.Kinds); err != nil {
			return err
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return fmt.Errorf("detectors: unknown detector %s (known: %s)", strings.Join(unknown, ", "), strings.Join(r.Names(), ", "))
	}
	return nil
}

// Outputs lists every detector's outputs in order, disabled detectors'
// too (their columns exist and stay NULL), with the thresholds settings
// give: the layout of llm_events rows and of window outcomes.
func (r Registry) Outputs(settings map[string]Settings) []detectors.Output {
	var out []detectors.Output
	for _, e := range r {
		t := settings[e.Name].Threshold
		for _, o := range e.Outputs {
			if o.Threshold > 0 && t > 0 && t <= 1 {
				o.Threshold = t
			}
			out = append(out, o)
		}
	}
	return out
}

// Schema is the schema of Outputs(settings): the layout of llm_events
// rows of scores by these detectors.
func (r Registry) Schema(settings map[string]Settings) (*detectors.Schema, error) {
	return detectors.SchemaOf(r.Outputs(settings))
}

// Build returns the enabled detectors, after Validate.
func (r Registry) Build(settings map[string]Settings) ([]detectors.Detector, error) {
	if err := r.Validate(settings); err != nil {
		return nil, err
	}
	var out []detectors.Detector
	for _, e := range r {
		s := settings[e.Name]
		if !s.enabled() {
			continue
		}
		d, err := e.Build(s)
		if err != nil {
			return nil, err
		}
		if d.Name() != e.Name {
			return nil, fmt.Errorf("cannot build detector %s: it calls itself %s", e.Name, d.Name())
		}
		out = append(out, d)
	}
	return out, nil
}

// Names lists the default detectors in run order.
func Names() []string { return Default().Names() }

// Validate is Default().Validate.
func Validate(settings map[string]Settings) error { return Default().Validate(settings) }

// Build is Default().Build.
func Build(settings map[string]Settings) ([]detectors.Detector, error) {
	return Default().Build(settings)
}

// Schema is Default().Schema.
func Schema(settings map[string]Settings) (*detectors.Schema, error) {
	return Default().Schema(settings)
}

// Outputs is Default().Outputs.
func Outputs(settings map[string]Settings) []detectors.Output { return Default().Outputs(settings) }
