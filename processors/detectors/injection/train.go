package injection

import (
	"bufio"
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/sightline-dev/sightline/processors/detectors/internal/hashing"
)

// Example is one labeled prompt of the JSONL training data.
type Example struct {
	ID     string `json:"id"`
	Text   string `json:"text"`
	Label  string `json:"label"` // "injection" or anything else (benign)
	Source string `json:"source"`
}

// LabelInjection marks an attack; every other label is benign.
const LabelInjection = "injection"

// Injection reports whether the row is labeled an attack.
func (e Example) Injection() bool { return e.Label == LabelInjection }

// LoadExamples reads JSONL rows (one Example per line) from path.
func LoadExamples(path string) ([]Example, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot open examples: %w", err)
	}
	defer f.Close()
	var out []Example
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 16<<20)
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var e Example
		if err := json.Unmarshal(b, &e); err != nil {
			return nil, fmt.Errorf("cannot parse examples line %d: %w", line, err)
		}
		if e.Label == "" {
			return nil, fmt.Errorf("cannot parse examples line %d: missing label", line)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("cannot read examples: %w", err)
	}
	if len(out) == 0 {
		return nil, errors.New("cannot read examples: file has no rows")
	}
	return out, nil
}

//go:embed augment_benign.txt
var augmentBenign string

//go:embed augment_attack.txt
var augmentAttack string

// Augmentation returns the hand-written rows added to every training run:
// ordinary benign prompts (the dev data's benign rows are all security
// coding requests) and classic jailbreaks. Held-out prompts used to test
// generalization live in testdata/ and are never part of this set.
func Augmentation() []Example {
	var out []Example
	add := func(text, label, id string) {
		for i, line := range strings.Split(text, "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			out = append(out, Example{ID: fmt.Sprintf("%s-%d", id, i), Text: line, Label: label, Source: "sightline hand-written"})
		}
	}
	add(augmentBenign, "benign", "aug-benign")
	add(augmentAttack, LabelInjection, "aug-attack")
	return out
}

// TrainConfig controls Train. The zero value of a field means its default
// from DefaultTrainConfig.
type TrainConfig struct {
	// Bits is log2 of the number of hashed weights (default 16).
	Bits uint8
	// CharMin and CharMax bound the character n-gram lengths (default 4..4).
	CharMin, CharMax uint8
	// L2 is the ridge penalty of the hashed n-gram weights (default 1e-2).
	// It is strong on purpose: the dev data separates attacks from benign
	// prompts by topic as much as by intent, and weak damping lets the
	// n-grams learn the topic.
	L2 float64
	// L2Cue is the ridge penalty of the cue-category weights (default 1e-4).
	L2Cue float64
	// Iterations bounds the L-BFGS iterations (default 200).
	Iterations int
	// Prior is the share of attacks among the prompts the model will score
	// (default 0.1). Training weighs both classes equally, which would put an
	// ordinary prompt with no evidence either way at 0.5; shifting the bias
	// by logit(Prior) turns the score into the posterior under that prior,
	// so evidence-free prompts score low. Ranking (ROC-AUC) is unchanged.
	Prior float64
	// Seed fixes the fold assignment of CrossValidate (default 1).
	Seed uint64
}

// DefaultTrainConfig returns the settings the shipped model was trained with.
func DefaultTrainConfig() TrainConfig {
	return TrainConfig{Bits: 16, CharMin: 4, CharMax: 4, L2: 1e-2, L2Cue: 1e-4, Iterations: 200, Prior: 0.1, Seed: 1}
}

func (c TrainConfig) withDefaults() TrainConfig {
	d := DefaultTrainConfig()
	if c.Bits == 0 {
		c.Bits = d.Bits
	}
	if c.CharMax == 0 {
		c.CharMin, c.CharMax = d.CharMin, d.CharMax
	}
	if c.L2 == 0 {
		c.L2 = d.L2
	}
	if c.L2Cue == 0 {
		c.L2Cue = d.L2Cue
	}
	if c.Iterations == 0 {
		c.Iterations = d.Iterations
	}
	if c.Seed == 0 {
		c.Seed = d.Seed
	}
	if c.Prior == 0 {
		c.Prior = d.Prior
	}
	return c
}

func (c TrainConfig) features() hashing.Features {
	return hashing.Features{Bits: c.Bits, Words: true, Bigrams: true, CharMin: c.CharMin, CharMax: c.CharMax}
}

// Train fits a model on examples (add Augmentation() to them to reproduce the
// shipped model). Classes are weighted to equal total weight, since the
// share of attacks in a training file says nothing about production
// traffic. Training is deterministic.
func Train(examples []Example, cfg TrainConfig) (*Model, error) {
	cfg = cfg.withDefaults()
	feats := cfg.features()
	if !feats.Valid() || cfg.Bits > 22 {
		return nil, errors.New("cannot train injection model: invalid feature settings")
	}
	if !(cfg.Prior > 0 && cfg.Prior < 1) {
		return nil, errors.New("cannot train injection model: Prior must be in (0,1)")
	}
	var nPos, nNeg float64
	for _, e := range examples {
		if e.Injection() {
			nPos++
		} else {
			nNeg++
		}
	}
	samples := make([]hashing.Sample, len(examples))
	var norm []byte
	var cm hashing.CueMatch
	for i, e := range examples {
		norm = hashing.Normalize(norm[:0], e.Text)
		cm = hashing.CueMatch{}
		matchCues(&cm, norm)
		w := 1 / max(nNeg, 1)
		if e.Injection() {
			w = 1 / max(nPos, 1)
		}
		samples[i] = hashing.Sample{
			Feats:  feats.Extract(nil, norm),
			Extra:  cm.AppendCats(nil),
			Label:  e.Injection(),
			Weight: w * float64(len(examples)),
		}
	}
	lin, err := hashing.Fit(samples, feats, hashing.TrainOptions{L2: cfg.L2, L2Extra: cfg.L2Cue, Iterations: cfg.Iterations, NumExtra: numCategories})
	if err != nil {
		return nil, fmt.Errorf("cannot train injection model: %w", err)
	}
	lin.Bias += float32(math.Log(cfg.Prior / (1 - cfg.Prior)))
	return newModel(lin), nil
}

// CVResult is the outcome of CrossValidate.
type CVResult struct {
	Folds int
	Rows  int
	// AUC is the ROC-AUC of the out-of-fold scores of the dev rows.
	AUC float64
}

// CrossValidate runs k-fold cross-validation over examples (folds
// stratified by label, from cfg.Seed) and returns the ROC-AUC of the
// out-of-fold scores. extra rows (e.g. Augmentation()) are added to every
// training fold and never scored.
func CrossValidate(examples, extra []Example, cfg TrainConfig, k int) (CVResult, []float64, error) {
	cfg = cfg.withDefaults()
	if k < 2 || len(examples) < k {
		return CVResult{}, nil, errors.New("cannot cross-validate: need k >= 2 and at least k examples")
	}
	strata := make([]int, len(examples))
	labels := make([]bool, len(examples))
	for i, e := range examples {
		labels[i] = e.Injection()
		if labels[i] {
			strata[i] = 1
		}
	}
	fold := hashing.Folds(strata, k, cfg.Seed)
	scores := make([]float64, len(examples))
	for f := 0; f < k; f++ {
		train := append([]Example(nil), extra...)
		for i, e := range examples {
			if fold[i] != f {
				train = append(train, e)
			}
		}
		m, err := Train(train, cfg)
		if err != nil {
			return CVResult{}, nil, fmt.Errorf("cannot cross-validate fold %d: %w", f, err)
		}
		for i, e := range examples {
			if fold[i] == f {
				scores[i] = m.Score(e.Text)
			}
		}
	}
	return CVResult{Folds: k, Rows: len(examples), AUC: hashing.AUC(scores, labels)}, scores, nil
}

// TrainFile trains a model with DefaultTrainConfig on the JSONL data at
// dataPath plus Augmentation(), writes it to outPath (through a temporary
// file renamed into place) and reports progress through logf (may be nil).
// It never logs prompt text.
func TrainFile(dataPath, outPath string, logf func(string, ...any)) error {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	examples, err := LoadExamples(dataPath)
	if err != nil {
		return err
	}
	aug := Augmentation()
	cfg := DefaultTrainConfig()
	logf("training injection model on %d rows + %d hand-written (bits=%d char=%d..%d l2=%g iterations=%d)",
		len(examples), len(aug), cfg.Bits, cfg.CharMin, cfg.CharMax, cfg.L2, cfg.Iterations)
	m, err := Train(append(examples, aug...), cfg)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(outPath), ".injection-model-*")
	if err != nil {
		return fmt.Errorf("cannot create model file: %w", err)
	}
	defer os.Remove(tmp.Name())
	n, err := m.WriteTo(tmp)
	if err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("cannot write model file: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("cannot write model file: %w", err)
	}
	if err := os.Rename(tmp.Name(), outPath); err != nil {
		return fmt.Errorf("cannot write model file: %w", err)
	}
	logf("wrote injection model to %s (%d bytes)", outPath, n)
	return nil
}
