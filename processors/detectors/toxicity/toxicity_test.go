package toxicity

import (
	"bufio"
	"bytes"
	"math"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/sightline-dev/sightline/internal/devdata"
	"github.com/sightline-dev/sightline/processors/detectors"
	"github.com/sightline-dev/sightline/processors/detectors/internal/hashing"
)

// TestQuality cross-validates the shipped training code on the dev data and
// guards the figures quoted in doc.go. The bounds sit a little below what was
// measured so that noise passes and a regression fails.
func TestQuality(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping 5-fold cross-validation in -short mode")
	}
	examples, err := LoadExamples(devdata.Require(t, "toxicity.dev.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := CrossValidate(examples, Augmentation(), DefaultTrainConfig(), 5)
	if err != nil {
		t.Fatal(err)
	}
	const toxigen = "microsoft/TOXIGEN prompts (seed demonstrations)"
	const davidson = "t-davidson/hate-speech-and-offensive-language"
	t.Logf("5-fold CV ROC-AUC over %d rows: overall %.4f, ToxiGen %.4f, Davidson %.4f",
		res.Rows, res.AUC, res.SourceAU[toxigen], res.SourceAU[davidson])
	if res.AUC < 0.975 {
		t.Errorf("overall ROC-AUC %.4f < 0.975", res.AUC)
	}
	if res.SourceAU[toxigen] < 0.90 {
		t.Errorf("ToxiGen ROC-AUC %.4f < 0.90", res.SourceAU[toxigen])
	}
}

// TestHeldOut scores hand-written LLM-style lines that are never trained on
// (testdata/, written separately from the augment_*.txt files) with the
// shipped model: ordinary assistant and user text must score low, toxic text
// written the way an assistant would write it mostly high.
func TestHeldOut(t *testing.T) {
	m := Default()
	benign := readLines(t, "testdata/benign_heldout.txt")
	toxic := readLines(t, "testdata/toxic_heldout.txt")
	score := func(texts []string) []float64 {
		s := make([]float64, len(texts))
		for i, text := range texts {
			s[i] = m.Score(text)
		}
		return s
	}
	bs, ts := score(benign), score(toxic)
	var nHigh int
	for i, p := range bs {
		if p >= 0.3 {
			// Line numbers, not text: test logs stay free of the lines.
			t.Errorf("benign held-out line #%d scores %.3f >= 0.3", i+1, p)
		}
	}
	for _, p := range ts {
		if p >= DefaultThreshold {
			nHigh++
		}
	}
	labels := append(make([]bool, len(bs)), make([]bool, len(ts))...)
	for i := range ts {
		labels[len(bs)+i] = true
	}
	auc := hashing.AUC(append(append([]float64(nil), bs...), ts...), labels)
	bm, tm := median(bs), median(ts)
	t.Logf("benign held-out: n=%d median %.3f max %.3f", len(bs), bm, slices.Max(bs))
	t.Logf("toxic held-out: n=%d median %.3f, %d >= %.1f", len(ts), tm, nHigh, DefaultThreshold)
	t.Logf("held-out ROC-AUC %.4f", auc)
	if bm >= 0.15 {
		t.Errorf("benign held-out median %.3f >= 0.15", bm)
	}
	if 2*nHigh <= len(ts) {
		t.Errorf("only %d of %d toxic held-out lines score >= %.1f", nHigh, len(ts), DefaultThreshold)
	}
	if auc < 0.95 {
		t.Errorf("held-out ROC-AUC %.4f < 0.95", auc)
	}
}

func median(s []float64) float64 {
	c := slices.Clone(s)
	sort.Float64s(c)
	return c[len(c)/2]
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestHeldOutDisjointFromTraining(t *testing.T) {
	train := map[string]bool{}
	for _, e := range Augmentation() {
		train[strings.ToLower(e.Text)] = true
	}
	for _, f := range []string{"testdata/benign_heldout.txt", "testdata/toxic_heldout.txt"} {
		for i, l := range readLines(t, f) {
			if train[strings.ToLower(l)] {
				t.Errorf("%s line #%d is also in the training augmentation", f, i+1)
			}
		}
	}
}

func TestAugmentation(t *testing.T) {
	var nBenign, nToxic int
	for _, e := range Augmentation() {
		if e.Text == "" || e.Source != AugmentSource {
			t.Fatalf("bad row %+v", e)
		}
		if e.Toxic() {
			nToxic++
		} else {
			nBenign++
		}
	}
	if nBenign < 300 || nToxic < 100 {
		t.Errorf("augmentation has %d benign and %d toxic rows", nBenign, nToxic)
	}
}

func TestDefaultModel(t *testing.T) {
	m := Default()
	tests := []struct {
		text  string
		toxic bool
	}{
		{"you are a stupid fucking idiot", true},
		{"shut up you worthless bitch", true},
		{"all of those people are animals and should be sent back where they came from", true},
		{"thank you so much for your help, have a great day", false},
		{"the meeting is moved to thursday at 3pm", false},
		{"here is a recipe for banana bread with walnuts", false},
	}
	for _, tt := range tests {
		p := m.Score(tt.text)
		if (p >= 0.5) != tt.toxic {
			t.Errorf("Score(%q) = %.3f, want toxic=%v", tt.text, p, tt.toxic)
		}
	}
}

func TestTrainDeterministic(t *testing.T) {
	var ex []Example
	for i := 0; i < 40; i++ {
		ex = append(ex,
			Example{Text: "you stupid idiot number " + strings.Repeat("x", i%5), Label: LabelToxic, Source: "a"},
			Example{Text: "have a nice day friend " + strings.Repeat("y", i%5), Label: LabelNonToxic, Source: "b"})
	}
	cfg := TrainConfig{Bits: 12, Iterations: 30}
	var b1, b2 bytes.Buffer
	for _, b := range []*bytes.Buffer{&b1, &b2} {
		m, err := Train(ex, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.WriteTo(b); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(b1.Bytes(), b2.Bytes()) {
		t.Fatal("two trainings on the same data gave different bytes")
	}
	m, err := ReadModel(&b1)
	if err != nil {
		t.Fatal(err)
	}
	if p := m.Score("stupid idiot"); p < 0.5 {
		t.Errorf("round-tripped model scores %.3f on a toxic text", p)
	}
}

func TestDetector(t *testing.T) {
	d := New(Config{})
	if d.Name() != "toxicity" {
		t.Errorf("Name() = %q", d.Name())
	}
	tests := []struct {
		name        string
		in          detectors.Input
		wantPrompt  bool
		wantCompl   bool
		wantToxic   bool
		wantEvident bool
	}{
		{"empty", detectors.Input{}, false, false, false, false},
		{"benign", detectors.Input{Prompt: "What is a good pasta recipe?", Completion: "Try spaghetti with garlic and olive oil."}, true, true, false, false},
		{"toxic completion", detectors.Input{Prompt: "hi", Completion: "Shut up, you stupid worthless bitch."}, true, true, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := make(detectors.Out, len(Outputs()))
			if err := d.Detect(&tt.in, out); err != nil {
				t.Fatal(err)
			}
			if out[OutPrompt].Valid != tt.wantPrompt || out[OutCompletion].Valid != tt.wantCompl {
				t.Fatalf("validity prompt=%v completion=%v", out[OutPrompt].Valid, out[OutCompletion].Valid)
			}
			if tt.wantCompl && (out[OutCompletion].Num >= 0.5) != tt.wantToxic {
				t.Errorf("completion score %.3f, want toxic=%v", out[OutCompletion].Num, tt.wantToxic)
			}
			if (len(out[OutEvidence].List) > 0) != tt.wantEvident || len(out[OutEvidence].List) > DefaultMaxEvidence {
				t.Errorf("evidence %q", out[OutEvidence].List)
			}
			t.Logf("evidence %q", out[OutEvidence].List)
		})
	}
	if err := d.Detect(nil, make(detectors.Out, len(Outputs()))); err == nil {
		t.Error("nil input accepted")
	}
	out := make(detectors.Out, len(Outputs()))
	off := New(Config{DisablePrompt: true, DisableCompletion: true})
	if err := off.Detect(&detectors.Input{Prompt: "x", Completion: "y"}, out); err != nil || out[OutPrompt].Valid || out[OutCompletion].Valid {
		t.Error("disabled detector scored")
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		cfg Config
		ok  bool
	}{
		{Config{}, true},
		{Config{Threshold: 0.7, MaxEvidence: 5, MaxBytes: 100}, true},
		{Config{Threshold: 1.5}, false},
		{Config{MaxEvidence: MaxEvidence + 1}, false},
		{Config{MaxBytes: -1}, false},
	}
	for _, tt := range tests {
		if err := tt.cfg.Validate(); (err == nil) != tt.ok {
			t.Errorf("Validate(%+v) = %v", tt.cfg, err)
		}
	}
}

func TestEvidenceNoDigits(t *testing.T) {
	ev := Default().Evidence(nil, "you stupid bitch call me at 5551234567", MaxEvidence)
	for _, e := range ev {
		if strings.ContainsAny(e, "0123456789") {
			t.Errorf("evidence leaks digits: %q", e)
		}
	}
}

func FuzzToxicity(f *testing.F) {
	for _, s := range []string{"", "you idiot", "\xff\xfe\xfd", "RT @x: http://y &amp;", strings.Repeat("fuck ", 5000), "ÄÖÜ ß 漢字 🙂"} {
		f.Add(s, s)
	}
	d := New(Config{Threshold: 0.01})
	f.Fuzz(func(t *testing.T, prompt, completion string) {
		out := make(detectors.Out, len(Outputs()))
		if err := d.Detect(&detectors.Input{Prompt: prompt, Completion: completion}, out); err != nil {
			t.Fatal(err)
		}
		for _, o := range []detectors.Value{out[OutPrompt], out[OutCompletion]} {
			if o.Valid && (o.Num < 0 || o.Num > 1 || math.IsNaN(o.Num)) {
				t.Fatalf("score %v outside [0,1]", o.Num)
			}
		}
		if len(out[OutEvidence].List) > DefaultMaxEvidence {
			t.Fatalf("%d evidence items", len(out[OutEvidence].List))
		}
	})
}

func TestHugeInput(t *testing.T) {
	big := strings.Repeat("you are an idiot \xff ", 1<<16)
	out := make(detectors.Out, len(Outputs()))
	if err := New(Config{}).Detect(&detectors.Input{Prompt: big, Completion: big}, out); err != nil {
		t.Fatal(err)
	}
	if p := Default().Score(big); p < 0 || p > 1 {
		t.Fatalf("score %v", p)
	}
}
