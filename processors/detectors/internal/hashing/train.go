package hashing

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"

	"gonum.org/v1/gonum/optimize"
)

// Sample is one training row: its features (from Features.Extract), its
// label (true for the positive class) and its weight in the loss.
type Sample struct {
	Feats []uint32
	// Extra lists the indexes of dense 0/1 features present in the row
	// (e.g. matched cue-phrase categories); each counts with value 1, not
	// length-normalized, so one cue weighs the same in a short or long text.
	Extra  []uint8
	Label  bool
	Weight float64
}

// TrainOptions controls Fit.
type TrainOptions struct {
	// L2 is the ridge penalty λ in mean weighted log-loss + λ/2·‖w‖²
	// (the bias is not penalized).
	L2 float64
	// Iterations bounds the L-BFGS iterations.
	Iterations int
	// NumExtra is the number of dense features Sample.Extra indexes.
	NumExtra int
	// L2Extra is the ridge penalty of the dense features (0 means L2). A
	// smaller one lets a few robust hand-made features carry the decision
	// while the many hashed ones stay damped.
	L2Extra float64
}

// Fit trains a logistic regression over samples by minimizing the weighted
// mean log-loss plus an L2 penalty with gonum's L-BFGS (settings in lbfgs)
// from zero weights. It fails rather than return a half-trained model when
// the minimizer stops on an error such as a failed line search. The
// procedure has no randomness, so equal samples in equal order give an
// equal model.
func Fit(samples []Sample, feats Features, opt TrainOptions) (*Linear, error) {
	if !feats.Valid() {
		return nil, errors.New("cannot train model: invalid feature settings")
	}
	if len(samples) == 0 {
		return nil, errors.New("cannot train model: no samples")
	}
	if opt.L2 <= 0 || opt.Iterations <= 0 {
		return nil, errors.New("cannot train model: L2 and Iterations must be positive")
	}
	var pos, neg bool
	for _, s := range samples {
		if s.Weight < 0 || math.IsNaN(s.Weight) || math.IsInf(s.Weight, 0) {
			return nil, errors.New("cannot train model: sample weight must be finite and non-negative")
		}
		pos = pos || (s.Label && s.Weight > 0)
		neg = neg || (!s.Label && s.Weight > 0)
	}
	if !pos || !neg {
		return nil, errors.New("cannot train model: need weighted samples of both classes")
	}
	if opt.NumExtra < 0 || opt.NumExtra > 255 {
		return nil, errors.New("cannot train model: NumExtra must be in [0,255]")
	}
	for _, s := range samples {
		for _, e := range s.Extra {
			if int(e) >= opt.NumExtra {
				return nil, errors.New("cannot train model: extra feature index out of range")
			}
		}
	}
	o := newObjective(samples, feats, opt)
	x := make([]float64, o.bias+1)
	if err := minimize(o, x, opt.Iterations); err != nil {
		return nil, fmt.Errorf("cannot train model: %w", err)
	}
	return o.model(x), nil
}

// lbfgs returns the settings of Fit's minimizer: gonum's L-BFGS keeping the
// last 10 steps with the Moré-Thuente line search (strong Wolfe
// conditions), stopping after iters iterations, when no gradient component
// exceeds 1e-9, or at the first iteration that lowers the value by 1e-10 or
// less.
//
// They replaced a hand-written L-BFGS (10 steps, Armijo backtracking, same
// stopping rules) once BenchmarkLBFGS and BenchmarkFit showed gonum as good
// on this objective (5,000 synthetic rows, 2^18 weights, 150 iterations;
// 2-core VM, idle, -benchtime 3x -count 3):
//
//	                       s/fit      evals  objective   B/op
//	hand-written           2.9-3.5    187    0.23965245  55 MB
//	gonum defaults         3.5-4.2    179    0.23961382  88 MB
//	these, backtracking    2.8-3.3    182    0.23962383  67 MB
//	these (Moré-Thuente)   3.0-3.6    164    0.23962415  67 MB
//
// gonum's defaults (15 steps, bisection line search, stop after 100
// iterations without progress) also fail with "linesearch: failed to
// converge" on the injection detector's training; these stop on the 1e-10
// rule after 58 iterations there (123 for toxicity) at objectives within
// 2e-10 of the hand-written L-BFGS's.
func lbfgs(iters int) (*optimize.Settings, optimize.Method) {
	return &optimize.Settings{
			MajorIterations: iters,
			Converger:       &optimize.FunctionConverge{Absolute: 1e-10, Iterations: 1},
		}, &optimize.LBFGS{
			Store:        10,
			Linesearcher: &optimize.MoreThuente{},
			// The one gradient check: Settings.GradientThreshold would
			// repeat this scan of all weights at every iteration.
			GradStopThreshold: 1e-9,
		}
}

// minimize moves x to the minimum of o, or as far as iters iterations get.
func minimize(o *objective, x []float64, iters int) error {
	settings, method := lbfgs(iters)
	_, err := minimizeWith(o, x, settings, method)
	return err
}

// minimizeWith moves x to the minimum of o with the given settings and
// method, or as far as their limits get.
func minimizeWith(o *objective, x []float64, settings *optimize.Settings, method optimize.Method) (*optimize.Result, error) {
	p := optimize.Problem{
		Func: func(x []float64) float64 { o.eval(x); return o.lastF },
		Grad: func(g, x []float64) { o.eval(x); copy(g, o.lastG) },
	}
	res, err := optimize.Minimize(p, x, settings, method)
	if err != nil {
		return res, err
	}
	copy(x, res.X)
	return res, nil
}

// objective is what Fit minimizes over x = (hashed weights, dense weights,
// bias): the weighted mean log-loss plus the L2 penalties. Fit has checked
// its samples.
type objective struct {
	samples     []Sample
	inv         []float64 // 1/sqrt(len(Feats)) of each sample
	totalW      float64
	dim, bias   int // number of hashed weights; index of the bias in x
	numExtra    int
	mask        uint32
	feats       Features
	l2, l2Extra float64

	lastX, lastG []float64
	lastF        float64
	evals        int // points evaluated, for the benchmark
}

func newObjective(samples []Sample, feats Features, opt TrainOptions) *objective {
	o := &objective{samples: samples, feats: feats, numExtra: opt.NumExtra, l2: opt.L2, l2Extra: opt.L2Extra}
	if o.l2Extra <= 0 {
		o.l2Extra = opt.L2
	}
	for _, s := range samples {
		o.totalW += s.Weight
	}
	o.dim = 1 << feats.Bits
	o.bias = o.dim + opt.NumExtra
	o.mask = uint32(o.dim - 1)
	o.inv = make([]float64, len(samples))
	for i, s := range samples {
		if len(s.Feats) > 0 {
			o.inv[i] = 1 / math.Sqrt(float64(len(s.Feats)))
		}
	}
	return o
}

// eval computes the value and the gradient at x in one pass over the
// samples, once per point: a minimizer asking for the value and the
// gradient at the same point separately gets the second from the cache.
func (o *objective) eval(x []float64) {
	if o.lastX != nil && slices.Equal(o.lastX, x) {
		return
	}
	if o.lastX == nil {
		o.lastX = make([]float64, len(x))
		o.lastG = make([]float64, len(x))
	}
	o.evals++
	copy(o.lastX, x)
	g := o.lastG
	clear(g)
	dim, bias, mask, inv := o.dim, o.bias, o.mask, o.inv
	w, b, ex := x[:dim], x[bias], x[dim:bias]
	var f float64
	for i, s := range o.samples {
		if s.Weight == 0 {
			continue
		}
		z := b
		for _, k := range s.Feats {
			z += w[k&mask] * inv[i]
		}
		for _, e := range s.Extra {
			z += ex[e]
		}
		// Stable log(1+exp(-y·z)) and its derivative.
		y := -1.0
		if s.Label {
			y = 1
		}
		m := y * z
		var loss float64
		if m > 0 {
			loss = math.Log1p(math.Exp(-m))
		} else {
			loss = -m + math.Log1p(math.Exp(m))
		}
		f += s.Weight * loss
		d := s.Weight * -y * Sigmoid(-m) / o.totalW
		for _, k := range s.Feats {
			g[k&mask] += d * inv[i]
		}
		for _, e := range s.Extra {
			g[dim+int(e)] += d
		}
		g[bias] += d
	}
	f /= o.totalW
	var r float64
	for j := 0; j < dim; j++ {
		r += x[j] * x[j]
		g[j] += o.l2 * x[j]
	}
	var re float64
	for j := dim; j < bias; j++ { // the bias is not penalized
		re += x[j] * x[j]
		g[j] += o.l2Extra * x[j]
	}
	o.lastF = f + o.l2/2*r + o.l2Extra/2*re
}

// model quantizes x into a Linear: hashed weights to int16 with one scale
// (the largest weight maps to ±MaxInt16), dense weights and bias to float32.
func (o *objective) model(x []float64) *Linear {
	dim, bias := o.dim, o.bias
	var maxAbs float64
	for _, v := range x[:dim] {
		maxAbs = max(maxAbs, math.Abs(v))
	}
	m := &Linear{Features: o.feats, Bias: float32(x[bias]), W: make([]int16, dim), Extra: make([]float32, o.numExtra)}
	for j := range m.Extra {
		m.Extra[j] = float32(x[dim+j])
	}
	if maxAbs > 0 {
		scale := maxAbs / math.MaxInt16
		m.Scale = float32(scale)
		for j, v := range x[:dim] {
			m.W[j] = int16(math.Round(v / scale))
		}
	}
	return m
}

// AUC returns the area under the ROC curve of scores against labels (the
// probability that a random positive outranks a random negative, ties
// counting one half), as the Mann-Whitney U statistic over average ranks.
// It returns NaN when either class is empty.
func AUC(scores []float64, labels []bool) float64 {
	n := len(scores)
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return scores[idx[a]] < scores[idx[b]] })
	var rankSumPos float64
	var nPos, nNeg float64
	for i := 0; i < n; {
		j := i
		for j < n && scores[idx[j]] == scores[idx[i]] {
			j++
		}
		avg := float64(i+j+1) / 2 // ranks are 1-based
		for k := i; k < j; k++ {
			if labels[idx[k]] {
				rankSumPos += avg
			}
		}
		i = j
	}
	for _, l := range labels {
		if l {
			nPos++
		} else {
			nNeg++
		}
	}
	if nPos == 0 || nNeg == 0 {
		return math.NaN()
	}
	return (rankSumPos - nPos*(nPos+1)/2) / (nPos * nNeg)
}

// Folds assigns each row to one of k folds from a seeded shuffle
// (deterministic), stratified by strata[i] (e.g. source and class) so that
// every fold keeps the mix of the whole.
func Folds(strata []int, k int, seed uint64) []int {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	fold := make([]int, len(strata))
	groups := map[int][]int{}
	var keys []int
	for i, s := range strata {
		if _, ok := groups[s]; !ok {
			keys = append(keys, s)
		}
		groups[s] = append(groups[s], i)
	}
	sort.Ints(keys)
	next := 0 // carry the round-robin over strata so small ones spread too
	for _, key := range keys {
		idx := groups[key]
		rng.Shuffle(len(idx), func(a, b int) { idx[a], idx[b] = idx[b], idx[a] })
		for _, i := range idx {
			fold[i] = next % k
			next++
		}
	}
	return fold
}
