package toxicity

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
	"sort"
	"strings"

	"github.com/sightline-dev/sightline/processors/detectors/internal/hashing"
)

// Example is one labeled row of the JSONL training data.
type Example struct {
	ID     string `json:"id"`
	Text   string `json:"text"`
	Label  string `json:"label"` // "toxic" or "non_toxic"
	Source string `json:"source"`
}

// Toxic reports whether the row is labeled toxic.
func (e Example) Toxic() bool { return e.Label == LabelToxic }

// Labels used in the data.
const (
	LabelToxic    = "toxic"
	LabelNonToxic = "non_toxic"
)

// LoadExamples reads JSONL rows (one Example per line) from path. Rows with
// an empty text or a label other than "toxic"/"non_toxic" are an error,
// since silently dropping them would change what the model learns.
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
		if e.Label != LabelToxic && e.Label != LabelNonToxic {
			return nil, fmt.Errorf("cannot parse examples line %d: label %q is neither %q nor %q", line, e.Label, LabelToxic, LabelNonToxic)
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

//go:embed augment_toxic.txt
var augmentToxic string

// AugmentSource is the Source of the rows Augmentation returns.
const AugmentSource = "sightline hand-written LLM text"

// Augmentation returns the hand-written rows added to every training run:
// ordinary assistant and user text (refusals, apologies, code, summaries,
// support replies, jailbreak-style prompts), which the dev data's tweets and
// group statements never show, and a smaller set of insults, threats, slurs
// and hateful generalizations written the way an LLM would write them.
// Held-out lines used to test generalization live in testdata/ and are never
// part of this set.
func Augmentation() []Example {
	var out []Example
	add := func(text, label, id string) {
		for i, line := range strings.Split(text, "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			out = append(out, Example{ID: fmt.Sprintf("%s-%d", id, i+1), Text: line, Label: label, Source: AugmentSource})
		}
	}
	add(augmentBenign, LabelNonToxic, "aug-benign")
	add(augmentToxic, LabelToxic, "aug-toxic")
	return out
}

// TrainConfig controls Train. The zero value of a field means its default
// from DefaultTrainConfig.
type TrainConfig struct {
	// Bits is log2 of the number of hashed weights (default 18).
	Bits uint8
	// CharMin and CharMax bound the character n-gram lengths (default 3..5).
	CharMin, CharMax uint8
	// L2 is the ridge penalty (default 1e-5). Larger generalizes more
	// smoothly to unseen wording at some cost on the training sources.
	L2 float64
	// Iterations bounds the L-BFGS iterations (default 150).
	Iterations int
	// SourceBalance in [0,1] reweights rows so that small sources are not
	// drowned by large ones: a row of source s weighs (nMax/n_s)^SourceBalance
	// (default 0.7; 0 leaves every row at weight 1). It sets the weight of
	// Augmentation() too: 0.7 lets the few hundred hand-written lines and
	// the ToxiGen statements count against 19,644 tweets.
	SourceBalance float64
	// Prior is the share of toxic texts among those the model will score
	// (default 0.2). Training weighs the two classes to equal total weight,
	// since the dev data's share (83% of the tweets are toxic, picked for
	// offensive words) says nothing about LLM traffic and would push every
	// text without evidence either way above 0.5; the bias is then shifted
	// by logit(Prior), so the score is the posterior under that prior.
	// Ranking (ROC-AUC) does not depend on it.
	Prior float64
	// Seed fixes the fold assignment of CrossValidate (default 1). Training
	// itself has no randomness.
	Seed uint64
}

// DefaultTrainConfig returns the settings the shipped model was trained with.
func DefaultTrainConfig() TrainConfig {
	return TrainConfig{Bits: 18, CharMin: 3, CharMax: 5, L2: 1e-5, Iterations: 150, SourceBalance: 0.7, Prior: 0.2, Seed: 1}
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

// Train fits a model on examples (add Augmentation() to them to reproduce
// the shipped model). Equal examples in equal order and an equal config give
// a model with equal bytes.
func Train(examples []Example, cfg TrainConfig) (*Model, error) {
	cfg = cfg.withDefaults()
	feats := cfg.features()
	if !feats.Valid() || cfg.Bits > 22 {
		return nil, errors.New("cannot train toxicity model: invalid feature settings")
	}
	if cfg.SourceBalance < 0 || cfg.SourceBalance > 1 {
		return nil, errors.New("cannot train toxicity model: SourceBalance must be in [0,1]")
	}
	if !(cfg.Prior > 0 && cfg.Prior < 1) {
		return nil, errors.New("cannot train toxicity model: Prior must be in (0,1)")
	}
	samples := samplesOf(examples, feats, cfg.SourceBalance)
	lin, err := hashing.Fit(samples, feats, hashing.TrainOptions{L2: cfg.L2, Iterations: cfg.Iterations})
	if err != nil {
		return nil, fmt.Errorf("cannot train toxicity model: %w", err)
	}
	lin.Bias += float32(math.Log(cfg.Prior / (1 - cfg.Prior)))
	return newModel(lin), nil
}

func samplesOf(examples []Example, feats hashing.Features, balance float64) []hashing.Sample {
	count := map[string]int{}
	nMax := 0
	for _, e := range examples {
		count[e.Source]++
		nMax = max(nMax, count[e.Source])
	}
	samples := make([]hashing.Sample, len(examples))
	var norm []byte
	var total [2]float64 // by label: non-toxic, toxic
	for i, e := range examples {
		norm = hashing.Normalize(norm[:0], e.Text)
		w := math.Pow(float64(nMax)/float64(count[e.Source]), balance)
		samples[i] = hashing.Sample{
			Feats:  feats.Extract(nil, norm),
			Label:  e.Toxic(),
			Weight: w,
		}
		total[b2i(e.Toxic())] += w
	}
	// Equal total weight per class, keeping the mean weight at that of the
	// source weights alone so the L2 penalty means the same.
	sum := total[0] + total[1]
	for i := range samples {
		if t := total[b2i(samples[i].Label)]; t > 0 {
			samples[i].Weight *= sum / (2 * t)
		}
	}
	return samples
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// CVResult is the outcome of CrossValidate: ROC-AUC of the out-of-fold
// scores over all rows and per source.
type CVResult struct {
	Folds    int
	Rows     int
	AUC      float64
	SourceAU map[string]float64
}

// CrossValidate runs k-fold cross-validation over examples (folds stratified
// by source and label, assigned from cfg.Seed) with the same training code as
// Train and returns the ROC-AUC of the out-of-fold scores. extra rows (e.g.
// Augmentation()) are added to every training fold and never scored.
func CrossValidate(examples, extra []Example, cfg TrainConfig, k int) (CVResult, error) {
	cfg = cfg.withDefaults()
	if k < 2 || len(examples) < k {
		return CVResult{}, errors.New("cannot cross-validate: need k >= 2 and at least k examples")
	}
	srcID := map[string]int{}
	strata := make([]int, len(examples))
	for i, e := range examples {
		id, ok := srcID[e.Source]
		if !ok {
			id = len(srcID)
			srcID[e.Source] = id
		}
		strata[i] = 2 * id
		if e.Toxic() {
			strata[i]++
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
			return CVResult{}, fmt.Errorf("cannot cross-validate fold %d: %w", f, err)
		}
		for i, e := range examples {
			if fold[i] == f {
				scores[i] = m.Score(e.Text)
			}
		}
	}
	labels := make([]bool, len(examples))
	for i, e := range examples {
		labels[i] = e.Toxic()
	}
	res := CVResult{Folds: k, Rows: len(examples), AUC: hashing.AUC(scores, labels), SourceAU: map[string]float64{}}
	srcs := make([]string, 0, len(srcID))
	for s := range srcID {
		srcs = append(srcs, s)
	}
	sort.Strings(srcs)
	for _, s := range srcs {
		var sc []float64
		var lb []bool
		for i, e := range examples {
			if e.Source == s {
				sc = append(sc, scores[i])
				lb = append(lb, labels[i])
			}
		}
		res.SourceAU[s] = hashing.AUC(sc, lb)
	}
	return res, nil
}

// TrainFile trains a model with DefaultTrainConfig on the JSONL data at
// dataPath plus Augmentation(), writes it to outPath (through a temporary file renamed into
// place, so a failed run leaves no partial model) and reports progress and
// the training-set figures through logf (which may be nil). It never logs
// example text.
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
	logf("training toxicity model on %d rows + %d hand-written (bits=%d char=%d..%d l2=%g iterations=%d prior=%g)",
		len(examples), len(aug), cfg.Bits, cfg.CharMin, cfg.CharMax, cfg.L2, cfg.Iterations, cfg.Prior)
	m, err := Train(append(examples, aug...), cfg)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(outPath), ".toxicity-model-*")
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
	logf("wrote toxicity model to %s (%d bytes)", outPath, n)
	return nil
}
