package injection

import (
	"errors"
	"fmt"

	"github.com/sightline-dev/sightline/processors/detectors"
	"github.com/sightline-dev/sightline/processors/detectors/internal/hashing"
)

// Config configures the prompt-injection detector. The zero value is usable:
// the prompt is scored with the embedded model and evidence is given when
// the score is at least 0.5.
type Config struct {
	// Model is the classifier to use; nil means Default().
	Model *Model
	// Disabled turns the detector into a no-op (PromptInjection stays
	// invalid).
	Disabled bool
	// Threshold is the score at or above which the prompt counts as an
	// attack and InjectionEvidence is filled (default 0.5).
	Threshold float64
	// MaxEvidence bounds the phrases in InjectionEvidence (default 3, at
	// most MaxEvidence).
	MaxEvidence int
	// MaxBytes bounds the bytes of the prompt that are scored (default 16
	// KiB), which bounds the time per event.
	MaxBytes int
}

// Defaults used when a Config field is zero.
const (
	DefaultThreshold   = 0.5
	DefaultMaxEvidence = 3
	DefaultMaxBytes    = 16 << 10
)

// Validate reports the first invalid field, named as in the YAML config.
func (c Config) Validate() error {
	switch {
	case c.Threshold < 0 || c.Threshold > 1:
		return fmt.Errorf("prompt_injection.threshold: %v is outside [0,1]", c.Threshold)
	case c.MaxEvidence < 0 || c.MaxEvidence > MaxEvidence:
		return fmt.Errorf("prompt_injection.max_evidence: %d is outside [0,%d]", c.MaxEvidence, MaxEvidence)
	case c.MaxBytes < 0:
		return errors.New("prompt_injection.max_bytes: must not be negative")
	}
	return nil
}

// Positions of the detector's outputs (Outputs).
const (
	OutScore    = iota // prompt_injection
	OutEvidence        // injection_evidence
	numOutputs         // how many (Detect checks out against it without building Outputs)
)

// Outputs declares the detector's outputs with the default threshold.
func Outputs() []detectors.Output { return outputs(DefaultThreshold) }

func outputs(threshold float64) []detectors.Output {
	return []detectors.Output{
		OutScore: {Name: "prompt_injection", Kind: detectors.Probability, Threshold: threshold, Rate: "prompt_injection",
			Eval: &detectors.Eval{Name: "prompt_injection", Positive: "injection", Negative: "benign", Explanation: "injection_evidence"}},
		OutEvidence: {Name: "injection_evidence", Kind: detectors.Evidence},
	}
}

// Detector scores the prompt and gives the phrases that drove an attack's
// score. It is safe for concurrent use.
type Detector struct {
	model       *Model
	cfg         Config
	maxEvidence int
}

var _ detectors.Detector = (*Detector)(nil)

// New returns a detector for cfg. Out-of-range fields (see Validate) fall
// back to their defaults, so New never fails; call Validate first to report
// them to the user.
func New(cfg Config) *Detector {
	d := &Detector{model: cfg.Model, cfg: cfg, maxEvidence: cfg.MaxEvidence}
	if d.model == nil {
		d.model = Default()
	}
	if d.cfg.Threshold <= 0 || d.cfg.Threshold > 1 {
		d.cfg.Threshold = DefaultThreshold
	}
	if d.maxEvidence <= 0 || d.maxEvidence > MaxEvidence {
		d.maxEvidence = DefaultMaxEvidence
	}
	if d.cfg.MaxBytes <= 0 {
		d.cfg.MaxBytes = DefaultMaxBytes
	}
	return d
}

// Name returns "prompt_injection".
func (d *Detector) Name() string { return "prompt_injection" }

// Outputs declares the outputs with the detector's threshold.
func (d *Detector) Outputs() []detectors.Output { return outputs(d.cfg.Threshold) }

// Detect scores the prompt. An empty prompt is not scored.
func (d *Detector) Detect(in *detectors.Input, out detectors.Out) error {
	if in == nil || len(out) < numOutputs {
		return errors.New("cannot detect prompt injection: nil input or scores")
	}
	if d.cfg.Disabled || in.Prompt == "" {
		return nil
	}
	text := in.Prompt
	if len(text) > d.cfg.MaxBytes {
		text = text[:d.cfg.MaxBytes]
	}
	s := hashing.GetScratch()
	defer hashing.PutScratch(s)
	p := hashing.Sigmoid(d.model.c.Margin(s, text))
	out.Set(OutScore, p)
	if p >= d.cfg.Threshold {
		out.SetList(OutEvidence, d.model.c.Evidence(nil, s, d.maxEvidence))
	}
	return nil
}
