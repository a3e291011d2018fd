// Package registry is the list of detectors the binaries build: adding a
// detector is one package under processors/ and one entry here. The list is
// a value built by the caller, never an init() side effect.
package registry

import (
	"fmt"
	"sort"
	"strings"

	"github.com/sightline-dev/sightline/processors/detector"
	"github.com/sightline-dev/sightline/processors/hallucination"
	"github.com/sightline-dev/sightline/processors/injection"
	"github.com/sightline-dev/sightline/processors/pii"
	"github.com/sightline-dev/sightline/processors/refmetrics"
	"github.com/sightline-dev/sightline/processors/refusal"
	"github.com/sightline-dev/sightline/processors/toxicity"
)

// Settings of one detector in the config file (detectors.<name>).
type Settings struct {
	// Enabled defaults to true; set false to skip the detector.
	Enabled *bool `yaml:"enabled"`
	// Threshold is the detector's decision threshold where it has one
	// (toxicity, prompt_injection, refusal); 0 keeps its default.
	Threshold float64 `yaml:"threshold"`
	// Kinds restricts the pii detector to these kinds (default all).
	Kinds []string `yaml:"kinds"`
}

func (s Settings) enabled() bool { return s.Enabled == nil || *s.Enabled }

type entry struct {
	name         string
	hasThreshold bool
	build        func(Settings) (detector.Detector, error)
}

// entries is the list of detectors, in the order they run.
var entries = []entry{
	{"toxicity", true, func(s Settings) (detector.Detector, error) {
		return toxicity.New(toxicity.Config{Threshold: s.Threshold}), nil
	}},
	{"prompt_injection", true, func(s Settings) (detector.Detector, error) {
		return injection.New(injection.Config{Threshold: s.Threshold}), nil
	}},
	{"hallucination", false, func(Settings) (detector.Detector, error) {
		return hallucination.New(hallucination.Config{}), nil
	}},
	{"refmetrics", false, func(Settings) (detector.Detector, error) {
		return refmetrics.New(refmetrics.Config{}), nil
	}},
	{"pii", false, func(s Settings) (detector.Detector, error) {
		set, err := piiKinds(s.Kinds)
		if err != nil {
			return nil, err
		}
		return pii.New(pii.Config{Kinds: set}), nil
	}},
	{"refusal", true, func(s Settings) (detector.Detector, error) {
		return refusal.New(refusal.Config{Threshold: s.Threshold}), nil
	}},
}

// Names lists the known detectors in run order.
func Names() []string {
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = e.name
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

// Validate checks detector settings without building anything: settings
// for unknown names, bad thresholds and unknown PII kinds are errors that
// name the config key.
func Validate(settings map[string]Settings) error {
	known := map[string]entry{}
	for _, e := range entries {
		known[e.name] = e
	}
	var unknown []string
	for name, s := range settings {
		e, ok := known[name]
		if !ok {
			unknown = append(unknown, name)
			continue
		}
		if s.Threshold != 0 && !e.hasThreshold {
			return fmt.Errorf("detectors.%s.threshold: this detector has no threshold", name)
		}
		if s.Threshold < 0 || s.Threshold > 1 {
			return fmt.Errorf("detectors.%s.threshold: must be in (0, 1], got %v", name, s.Threshold)
		}
		if len(s.Kinds) > 0 && name != "pii" {
			return fmt.Errorf("detectors.%s.kinds: only the pii detector takes kinds", name)
		}
		if _, err := piiKinds(s.Kinds); err != nil {
			return err
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return fmt.Errorf("detectors: unknown detector %s (known: %s)", strings.Join(unknown, ", "), strings.Join(Names(), ", "))
	}
	return nil
}

// Build returns the enabled detectors, after Validate.
func Build(settings map[string]Settings) ([]detector.Detector, error) {
	if err := Validate(settings); err != nil {
		return nil, err
	}
	var out []detector.Detector
	for _, e := range entries {
		s := settings[e.name]
		if !s.enabled() {
			continue
		}
		d, err := e.build(s)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}
