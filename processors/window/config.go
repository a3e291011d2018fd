package window

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Config shapes the partials and the per-window signals. It is the
// `window:` section of the config file; Validate names the YAML key of
// anything wrong. Start from DefaultConfig: zero values are not defaults.
//
// The fields that shape a partial (thresholds, sample sizes, embedding
// dimensions, caps, histogram edges) are carried inside every partial, and
// partials merge only when those agree, so change them between windows, not
// within one.
type Config struct {
	// Outcomes are the per-event outcomes counted (default
	// DefaultOutcomes(): the Rate of each default detector output, with
	// the threshold detectors.<name>.threshold sets, then errors). Not a
	// key of window: the detectors' declarations and settings make it
	// (OutcomesOf(registry.Outputs(settings))).
	Outcomes []Outcome `yaml:"-"`

	// The thresholds that were window keys are detectors.<name>.threshold
	// now (one key per decision); set, they are an error that says so.
	MovedToxicityThreshold      float64 `yaml:"toxicity_threshold"`
	MovedInjectionThreshold     float64 `yaml:"injection_threshold"`
	MovedHallucinationThreshold float64 `yaml:"hallucination_threshold"`

	// Edges overrides the histogram edges of numeric features by name
	// (window.edges.<feature>: strictly increasing, at least two). The
	// defaults are in DefaultEdges.
	Edges map[string][]float64 `yaml:"edges"`

	// SampleSize is k of the bottom-k latency sample used by Mann-Whitney
	// (window.sample_size, default 256).
	SampleSize int `yaml:"sample_size"`
	// EmbeddingSampleSize is k of the bottom-k sample of text embeddings
	// used by the MMD test (window.embedding_sample_size, default 64). The
	// MMD permutation test costs O(k²·permutations) per window, hence
	// smaller than SampleSize.
	EmbeddingSampleSize int `yaml:"embedding_sample_size"`
	// EmbeddingDims is the size of the hashed text embedding
	// (window.embedding_dims, default 32).
	EmbeddingDims int `yaml:"embedding_dims"`
	// TopicBits is the number of random-projection sign bits that make the
	// topic bucket: 2^TopicBits buckets (window.topic_bits, default 3).
	TopicBits int `yaml:"topic_bits"`
	// TextMaxBytes bounds the prompt bytes read per event for the script
	// and the embedding (window.text_max_bytes, default 4096).
	TextMaxBytes int `yaml:"text_max_bytes"`

	// MaxGroups caps the groups kept per segment attribute; the rest are
	// counted in "__other__" (window.max_groups, default 32).
	MaxGroups int `yaml:"max_groups"`
	// MaxAttributes caps the segment attributes tracked per partial
	// (window.max_attributes, default 8).
	MaxAttributes int `yaml:"max_attributes"`
	// MaxCategories caps the values kept of open categorical features
	// (finish_reason, response model); the rest are "__other__"
	// (window.max_categories, default 16).
	MaxCategories int `yaml:"max_categories"`

	// Confidence of the Wilson intervals of rates and the A/B intervals
	// (window.confidence, default 0.95).
	Confidence float64 `yaml:"confidence"`

	Drift DriftConfig `yaml:"drift"`
	Bias  BiasConfig  `yaml:"bias"`
	AB    ABConfig    `yaml:"ab"`
}

// DriftConfig holds the drift thresholds (window.drift.*).
type DriftConfig struct {
	// Alpha is the family-wise false-alarm level per key and window across
	// all drift tests (Bonferroni) (window.drift.alpha, default 0.01).
	Alpha float64 `yaml:"alpha"`
	// PSIThreshold flags drift on effect size alone (window.drift.psi_threshold,
	// default 0.2).
	PSIThreshold float64 `yaml:"psi_threshold"`
	// MinSamples is the smallest count on each side for a drift decision
	// (window.drift.min_samples, default 100).
	MinSamples float64 `yaml:"min_samples"`
	// Permutations of the text-embedding MMD test (window.drift.permutations,
	// default 300). The test runs at alpha/2 and its p-value is at least
	// 1/(permutations+1), so permutations must exceed 2/alpha.
	Permutations int `yaml:"permutations"`
	// Seed of the MMD permutation test (window.drift.seed, default 1).
	Seed uint64 `yaml:"seed"`
}

// BiasConfig holds the bias thresholds (window.bias.*).
type BiasConfig struct {
	// Alpha is the family-wise level per segment attribute and outcome
	// (Holm-Bonferroni) (window.bias.alpha, default 0.005).
	Alpha float64 `yaml:"alpha"`
	// MinGroupSize: smaller groups are reported as insufficient
	// (window.bias.min_group_size, default 100).
	MinGroupSize float64 `yaml:"min_group_size"`
	// Outcomes analysed for bias (window.bias.outcomes, default all:
	// toxicity, hallucination, refusal, pii, prompt_injection, error).
	Outcomes []string `yaml:"outcomes"`
}

// ABConfig holds the A/B comparison settings (window.ab.*).
type ABConfig struct {
	// Alpha is the significance level of each comparison (window.ab.alpha,
	// default 0.05).
	Alpha float64 `yaml:"alpha"`
	// Decision selects the test whose p-value decides: "msprt" (default,
	// always valid however often the dashboard is looked at) or "fixed"
	// (two-proportion z-test for rates, Welch for continuous metrics; valid
	// only at one pre-planned look) (window.ab.decision).
	Decision string `yaml:"decision"`
	// MixingSD is the mSPRT mixing standard deviation in units of the
	// per-observation standard deviation (window.ab.mixing_sd, default 0.1).
	MixingSD float64 `yaml:"mixing_sd"`
	// Start restarts every experiment (window.ab.start, an RFC 3339 time;
	// default none): windows before it are in no experiment, and an
	// experiment that began before it starts again at its first window
	// from then on in which both variants have events. See Experiment.
	Start string `yaml:"start"`
	// Starts does the same per experiment (window.ab.starts: a list of
	// tenant, app, model, variant and start; empty fields match any, the
	// variant is the treatment). The latest matching start applies.
	Starts []ABStart `yaml:"starts"`
}

// AB decision tests.
const (
	DecisionMSPRT = "msprt"
	DecisionFixed = "fixed"
)

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{
		Outcomes:            DefaultOutcomes(),
		SampleSize:          256,
		EmbeddingSampleSize: 64,
		EmbeddingDims:       32,
		TopicBits:           3,
		TextMaxBytes:        4096,
		MaxGroups:           32,
		MaxAttributes:       8,
		MaxCategories:       16,
		Confidence:          0.95,
		Drift: DriftConfig{
			Alpha:        0.01,
			PSIThreshold: 0.2,
			MinSamples:   100,
			Permutations: 300,
			Seed:         1,
		},
		Bias: BiasConfig{Alpha: 0.005, MinGroupSize: 100},
		AB:   ABConfig{Alpha: 0.05, Decision: DecisionMSPRT, MixingSD: 0.1},
	}
}

// Bounds that keep a partial's memory bounded whatever the config says.
const (
	maxSampleSize    = 4096
	maxEmbeddingDims = 1024
	maxTopicBits     = 8
	maxGroupsLimit   = 1024
	maxAttrsLimit    = 64
	maxCategories    = 1024
	maxTextBytes     = 1 << 20
	maxEdges         = 1024
)

// outcomes are c.Outcomes or, when unset, the defaults.
func (c *Config) outcomes() []Outcome {
	if c.Outcomes == nil {
		return DefaultOutcomes()
	}
	return c.Outcomes
}

// OutcomeNames lists the outcomes counted, in order.
func (c *Config) OutcomeNames() []string {
	var out []string
	for _, o := range c.outcomes() {
		out = append(out, o.Name)
	}
	return out
}

// Threshold is the threshold of the named outcome (0 when it has none or
// is not counted).
func (c *Config) Threshold(outcome string) float64 {
	for _, o := range c.outcomes() {
		if o.Name == outcome {
			return o.Threshold
		}
	}
	return 0
}

// validOutcomes checks a list of outcomes: unique names, at most
// maxOutcomes, thresholds in [0, 1].
func validOutcomes(outs []Outcome) error {
	if len(outs) > maxOutcomes {
		return fmt.Errorf("window: %d outcomes, at most %d (detector outputs with a rate, and errors)", len(outs), maxOutcomes)
	}
	for i, o := range outs {
		if o.Name == "" || !(o.Threshold >= 0 && o.Threshold <= 1) {
			return fmt.Errorf("window: outcome %q has threshold %v outside [0, 1]", o.Name, o.Threshold)
		}
		for _, p := range outs[:i] {
			if p.Name == o.Name {
				return fmt.Errorf("window: outcome %q counted twice", o.Name)
			}
		}
	}
	return nil
}

// Validate checks the values, naming the YAML key of anything wrong.
func (c *Config) Validate() error {
	open := func(key string, v float64) error {
		if !(v > 0 && v < 1) {
			return fmt.Errorf("window.%s must be in (0, 1), got %v", key, v)
		}
		return nil
	}
	rng := func(key string, v, lo, hi int) error {
		if v < lo || v > hi {
			return fmt.Errorf("window.%s must be between %d and %d, got %d", key, lo, hi, v)
		}
		return nil
	}
	for _, m := range []struct {
		key, detector string
		v             float64
	}{{"toxicity_threshold", "toxicity", c.MovedToxicityThreshold}, {"injection_threshold", "prompt_injection", c.MovedInjectionThreshold},
		{"hallucination_threshold", "hallucination", c.MovedHallucinationThreshold}} {
		if m.v != 0 {
			return fmt.Errorf("window.%s moved to detectors.%s.threshold (one setting for the detector, its rate and its label)", m.key, m.detector)
		}
	}
	if err := validOutcomes(c.Outcomes); err != nil {
		return err
	}
	checks := []error{
		rng("sample_size", c.SampleSize, 2, maxSampleSize),
		rng("embedding_sample_size", c.EmbeddingSampleSize, 0, maxSampleSize),
		rng("embedding_dims", c.EmbeddingDims, 2, maxEmbeddingDims),
		rng("topic_bits", c.TopicBits, 1, maxTopicBits),
		rng("text_max_bytes", c.TextMaxBytes, 1, maxTextBytes),
		rng("max_groups", c.MaxGroups, 1, maxGroupsLimit),
		rng("max_attributes", c.MaxAttributes, 0, maxAttrsLimit),
		rng("max_categories", c.MaxCategories, 1, maxCategories),
		open("confidence", c.Confidence),
		open("drift.alpha", c.Drift.Alpha),
		open("bias.alpha", c.Bias.Alpha),
		open("ab.alpha", c.AB.Alpha),
	}
	for _, err := range checks {
		if err != nil {
			return err
		}
	}
	if !(c.Drift.PSIThreshold > 0) || math.IsInf(c.Drift.PSIThreshold, 0) {
		return fmt.Errorf("window.drift.psi_threshold must be positive, got %v", c.Drift.PSIThreshold)
	}
	if !(c.Drift.MinSamples >= 2) || math.IsInf(c.Drift.MinSamples, 0) {
		return fmt.Errorf("window.drift.min_samples must be at least 2, got %v", c.Drift.MinSamples)
	}
	if c.Drift.Permutations < 1 || c.Drift.Permutations > 100000 {
		return fmt.Errorf("window.drift.permutations must be between 1 and 100000, got %d", c.Drift.Permutations)
	}
	if 1/float64(c.Drift.Permutations+1) >= c.Drift.Alpha/2 {
		return fmt.Errorf("window.drift.permutations must be more than 2/window.drift.alpha (%v) for the text drift test to ever reject, got %d", 2/c.Drift.Alpha, c.Drift.Permutations)
	}
	if !(c.Bias.MinGroupSize >= 2) || math.IsInf(c.Bias.MinGroupSize, 0) {
		return fmt.Errorf("window.bias.min_group_size must be at least 2, got %v", c.Bias.MinGroupSize)
	}
	for _, o := range c.Bias.Outcomes {
		if !slices.ContainsFunc(c.outcomes(), func(x Outcome) bool { return x.Name == o }) {
			return fmt.Errorf("window.bias.outcomes: unknown outcome %q (known: %s)", o, strings.Join(c.OutcomeNames(), ", "))
		}
	}
	if c.AB.Decision != DecisionMSPRT && c.AB.Decision != DecisionFixed {
		return fmt.Errorf("window.ab.decision must be %q or %q, got %q", DecisionMSPRT, DecisionFixed, c.AB.Decision)
	}
	if !(c.AB.MixingSD > 0) || math.IsInf(c.AB.MixingSD, 0) {
		return fmt.Errorf("window.ab.mixing_sd must be positive, got %v", c.AB.MixingSD)
	}
	if err := c.AB.validateStarts(); err != nil {
		return err
	}
	names := make([]string, 0, len(c.Edges))
	for name := range c.Edges {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if numericIndex(name) < 0 {
			return fmt.Errorf("window.edges.%s: unknown numeric feature (known: %s)", name, strings.Join(NumericFeatureNames(), ", "))
		}
		e := c.Edges[name]
		if len(e) < 2 || len(e) > maxEdges {
			return fmt.Errorf("window.edges.%s must have between 2 and %d edges, got %d", name, maxEdges, len(e))
		}
		for i, v := range e {
			if math.IsNaN(v) || math.IsInf(v, 0) || (i > 0 && v <= e[i-1]) {
				return fmt.Errorf("window.edges.%s must be finite and strictly increasing", name)
			}
		}
	}
	return nil
}
