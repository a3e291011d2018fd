package hashing

import (
	"math/rand/v2"
	"strings"
	"testing"

	"gonum.org/v1/gonum/optimize"
)

// syntheticSamples returns n labeled rows of a made-up language shaped like
// the toxicity dev data (which is not in the repository): Zipf-distributed
// words (s = 1.1) over a vocabulary of 3,000, 5 to 40 words a row, 30%
// positives drawing a fifth of their words from 200 class words that
// negatives use 2% of the time, 5% of labels flipped. Seeded: equal n, equal
// rows.
func syntheticSamples(n int, feats Features) []Sample {
	rng := rand.New(rand.NewPCG(7, 11))
	const vocab, classWords = 3000, 200
	words := make([]string, vocab)
	for i := range words {
		var b strings.Builder
		for l := 3 + rng.IntN(7); l > 0; l-- {
			b.WriteByte(byte('a' + rng.IntN(26)))
		}
		words[i] = b.String()
	}
	zipf := rand.NewZipf(rand.New(rand.NewPCG(13, 17)), 1.1, 1, vocab-1)
	out := make([]Sample, n)
	var text []string
	var norm []byte
	for i := range out {
		pos := rng.Float64() < 0.3
		text = text[:0]
		for l := 5 + rng.IntN(36); l > 0; l-- {
			w := words[zipf.Uint64()]
			if c := rng.Float64(); (pos && c < 0.2) || (!pos && c < 0.02) {
				w = words[vocab-classWords+rng.IntN(classWords)]
			}
			text = append(text, w)
		}
		label := pos != (rng.Float64() < 0.05)
		norm = Normalize(norm[:0], strings.Join(text, " "))
		out[i] = Sample{Feats: feats.Extract(nil, norm), Label: label, Weight: 1}
	}
	return out
}

// The toxicity detector's training settings (its DefaultTrainConfig).
var (
	benchFeatures = Features{Bits: 18, Words: true, Bigrams: true, CharMin: 3, CharMax: 5}
	benchOptions  = TrainOptions{L2: 1e-5, Iterations: 150}
)

// BenchmarkFit minimizes Fit's objective on 5,000 synthetic rows with the
// toxicity settings (2^18 weights, 150 iterations) and reports the
// objective reached (in units of 1e-9) and the points evaluated (each one
// pass over the rows).
func BenchmarkFit(b *testing.B) {
	samples := syntheticSamples(5000, benchFeatures)
	b.ReportAllocs()
	var o *objective
	var x []float64
	for b.Loop() {
		o = newObjective(samples, benchFeatures, benchOptions)
		x = make([]float64, o.bias+1)
		if err := minimize(o, x, benchOptions.Iterations); err != nil {
			b.Fatal(err)
		}
	}
	evals := o.evals
	o.eval(x)
	b.ReportMetric(o.lastF*1e9, "objective_e-9")
	b.ReportMetric(float64(evals), "evals")
}

// BenchmarkLBFGS minimizes the objective of BenchmarkFit with gonum's
// L-BFGS under three settings: gonum's defaults (bounded to the same
// iterations), Fit's settings with a backtracking (Armijo) line search as
// the hand-written L-BFGS had, and Fit's own settings (lbfgs). It reports
// the objective reached (in units of 1e-9), the points evaluated and the
// major iterations. lbfgs's doc comment quotes the figures, with those of
// the hand-written L-BFGS that Fit used before.
func BenchmarkLBFGS(b *testing.B) {
	samples := syntheticSamples(5000, benchFeatures)
	iters := benchOptions.Iterations
	for _, tt := range []struct {
		name     string
		settings func() (*optimize.Settings, optimize.Method)
	}{
		{"gonum-default", func() (*optimize.Settings, optimize.Method) {
			return &optimize.Settings{MajorIterations: iters}, &optimize.LBFGS{}
		}},
		{"backtracking", func() (*optimize.Settings, optimize.Method) {
			s, _ := lbfgs(iters)
			return s, &optimize.LBFGS{Store: 10, Linesearcher: &optimize.Backtracking{}}
		}},
		{"fit", func() (*optimize.Settings, optimize.Method) { return lbfgs(iters) }},
	} {
		b.Run(tt.name, func(b *testing.B) {
			b.ReportAllocs()
			var o *objective
			var x []float64
			var res *optimize.Result
			for b.Loop() {
				o = newObjective(samples, benchFeatures, benchOptions)
				x = make([]float64, o.bias+1)
				s, m := tt.settings()
				var err error
				if res, err = minimizeWith(o, x, s, m); err != nil {
					b.Fatal(err)
				}
			}
			evals := o.evals
			o.eval(x)
			b.ReportMetric(o.lastF*1e9, "objective_e-9")
			b.ReportMetric(float64(evals), "evals")
			b.ReportMetric(float64(res.MajorIterations), "iterations")
		})
	}
}
