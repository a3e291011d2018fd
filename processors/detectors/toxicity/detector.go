package toxicity

import (
	"errors"
	"fmt"

	"github.com/sightline-dev/sightline/processors/detectors"
	"github.com/sightline-dev/sightline/processors/detectors/internal/hashing"
)

// Config configures the toxicity detector. The zero value is usable: both
// texts are scored with the embedded model and evidence is given for
// completions scoring at least 0.5.
type Config struct {
	// Model is the classifier to use; nil means Default().
	Model *Model
	// DisablePrompt skips scoring the prompt (PromptToxicity stays invalid).
	DisablePrompt bool
	// DisableCompletion skips scoring the completion (CompletionToxicity
	// stays invalid and no evidence is given).
	DisableCompletion bool
	// Threshold is the completion score at or above which the completion
	// counts as toxic and ToxicityEvidence is filled (default 0.5). Evidence
	// is skipped below it because benign text has nothing worth citing and
	// it keeps the common case free of allocations.
	Threshold float64
	// MaxEvidence bounds the terms in ToxicityEvidence (default 3, at most
	// MaxEvidence).
	MaxEvidence int
	// MaxBytes bounds the bytes of each text that are scored (default 16
	// KiB); longer texts are scored on their first MaxBytes, which bounds the
	// time per event.
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
		return fmt.Errorf("toxicity.threshold: %v is outside [0,1]", c.Threshold)
	case c.MaxEvidence < 0 || c.MaxEvidence > MaxEvidence:
		return fmt.Errorf("toxicity.max_evidence: %d is outside [0,%d]", c.MaxEvidence, MaxEvidence)
	case c.MaxBytes < 0:
		return errors.New("toxicity.max_bytes: must not be negative")
	}
	return nil
}

// Positions of the detector's outputs (Outputs).
const (
	OutCompletion = iota // completion_toxicity
	OutPrompt            // prompt_toxicity
	OutEvidence          // toxicity_evidence
	numOutputs           // how many (Detect checks out against it without building Outputs)
)

// Outputs declares the detector's outputs with the default threshold.
func Outputs() []detectors.Output { return outputs(DefaultThreshold) }

func outputs(threshold float64) []detectors.Output {
	return []detectors.Output{
		OutCompletion: {Name: "completion_toxicity", Kind: detectors.Probability, Threshold: threshold, Rate: "toxicity",
			Eval: &detectors.Eval{Name: "toxicity", Positive: "toxic", Negative: "not_toxic", Explanation: "toxicity_evidence"}},
		OutPrompt: {Name: "prompt_toxicity", Kind: detectors.Probability, Threshold: threshold,
			Eval: &detectors.Eval{Name: "prompt_toxicity", Positive: "toxic", Negative: "not_toxic"}},
		OutEvidence: {Name: "toxicity_evidence", Kind: detectors.Evidence},
	}
}

// Detector scores the completion and the prompt and gives the terms that
// drove a toxic completion's score. It is safe for concurrent use.
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

// Name returns "toxicity".
func (d *Detector) Name() string { return "toxicity" }

// Outputs declares the outputs with the detector's threshold.
func (d *Detector) Outputs() []detectors.Output { return outputs(d.cfg.Threshold) }

// Detect scores the prompt and the completion. Empty texts are not scored
// (their fields stay invalid): there is nothing to judge.
func (d *Detector) Detect(in *detectors.Input, out detectors.Out) error {
	if in == nil || len(out) < numOutputs {
		return errors.New("cannot detect toxicity: nil input or scores")
	}
	s := hashing.GetScratch()
	defer hashing.PutScratch(s)
	if !d.cfg.DisablePrompt && in.Prompt != "" {
		out.Set(OutPrompt, hashing.Sigmoid(d.model.c.Margin(s, d.clip(in.Prompt))))
	}
	if !d.cfg.DisableCompletion && in.Completion != "" {
		p := hashing.Sigmoid(d.model.c.Margin(s, d.clip(in.Completion)))
		out.Set(OutCompletion, p)
		if p >= d.cfg.Threshold {
			out.SetList(OutEvidence, d.model.c.Evidence(nil, s, d.maxEvidence))
		}
	}
	return nil
}

func (d *Detector) clip(s string) string {
	if len(s) > d.cfg.MaxBytes {
		return s[:d.cfg.MaxBytes]
	}
	return s
}
