package toxicity

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"

	"github.com/sightline-dev/sightline/processors/internal/hashing"
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
	// (default 0.5; 0 leaves every row at weight 1).
	SourceBalance float64
	// Seed fixes the fold assignment of CrossValidate (default 1). Training
	// itself has no randomness.
	Seed uint64
}

// DefaultTrainConfig returns the settings the shipped model was trained with.
func DefaultTrainConfig() TrainConfig {
	return TrainConfig{Bits: 18, CharMin: 3, CharMax: 5, L2: 1e-5, Iterations: 150, SourceBalance: 0.5, Seed: 1}
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
	return c
}

func (c TrainConfig) features() hashing.Features {
	return hashing.Features{Bits: c.Bits, Words: true, Bigrams: true, CharMin: c.CharMin, CharMax: c.CharMax}
}

// Train fits a model on examples. Equal examples in equal order and an equal
// config give a model with equal bytes.
func Train(examples []Example, cfg TrainConfig) (*Model, error) {
	cfg = cfg.withDefaults()
	feats := cfg.features()
	if !feats.Valid() || cfg.Bits > 22 {
		return nil, errors.New("cannot train toxicity model: invalid feature settings")
	}
	if cfg.SourceBalance < 0 || cfg.SourceBalance > 1 {
		return nil, errors.New("cannot train toxicity model: SourceBalance must be in [0,1]")
	}
	samples := samplesOf(examples, feats, cfg.SourceBalance)
	lin, err := hashing.Fit(samples, feats, hashing.TrainOptions{L2: cfg.L2, Iterations: cfg.Iterations})
	if err != nil {
		return nil, fmt.Errorf("cannot train toxicity model: %w", err)
	}
	return &Model{lin: lin}, nil
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
	for i, e := range examples {
		norm = hashing.Normalize(norm[:0], e.Text)
		samples[i] = hashing.Sample{
			Feats:  feats.Extract(nil, norm),
			Label:  e.Toxic(),
			Weight: math.Pow(float64(nMax)/float64(count[e.Source]), balance),
		}
	}
	return samples
}

// CVResult is the outcome of CrossValidate: ROC-AUC of the out-of-fold
// scores over all rows and per source.
type CVResult struct {
	Folds    int
	Rows     int
	AUC      float64
	SourceAU map[string]float64
}

// CrossValidate runs k-fold cross-validation (folds stratified by source and
// label, assigned from cfg.Seed) with the same training code as Train and
// returns the ROC-AUC of the out-of-fold scores.
func CrossValidate(examples []Example, cfg TrainConfig, k int) (CVResult, error) {
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
		var train []Example
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
// dataPath, writes it to outPath (through a temporary file renamed into
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
	cfg := DefaultTrainConfig()
	logf("training toxicity model on %d rows (bits=%d char=%d..%d l2=%g iterations=%d)",
		len(examples), cfg.Bits, cfg.CharMin, cfg.CharMax, cfg.L2, cfg.Iterations)
	m, err := Train(examples, cfg)
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
