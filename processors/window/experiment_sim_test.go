package window

import (
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"sync"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/sightline-dev/sightline/processors/stats"
)

// The sequential A/B simulation (issue 14). Each simulated experiment
// compares a control with a treatment window after window, through the
// stream's representation and code: per window and arm an ABStats (the
// exact fixed-point latency moments and the refusal counts a Partial
// holds), folded in with Advance, whose rows decide at window.ab.alpha.
//
// Per window and arm: 2,000 events with latency N(1000 ms, 200 ms) (the
// treatment's shifted by the effect) and refusals at 5%. By default each
// window's statistics are drawn from their exact distributions (the sum
// of 2,000 normals is normal, the sum of squared deviations σ²·χ²(1999),
// the refusals binomial) and rounded into the fixed-point sums, which
// takes about a second for all 2,000 × 100 windows; with
// SIGHTLINE_AB_SIM=events every event's latency goes through the same
// exactMoments.add as Partial.Add and every refusal is a Bernoulli draw
// (8·10⁸ events, about 10 s on two cores).
const (
	simExperiments = 2000
	simWindows     = 100
	simEvents      = 2000 // per window and arm
	simLatencyMean = 1000.0
	simLatencySD   = 200.0
	simRefusalRate = 0.05
	simEffectSD    = 0.2
)

// Metric indices of an experiment whose arms count only refusals: the
// refusal rate is its first outcome, latency_ms its first continuous
// metric (abContinuous[0]).
const (
	simRefusal = 0
	simLatency = maxOutcomes
)

var simOutcomes = outcomeNamesSet([]string{"refusal"})

// simArm fills s with one window of one arm.
type simArm func(rng *rand.Rand, s *ABStats, shift float64)

func simByStatistics(rng *rand.Rand, s *ABStats, shift float64) {
	*s = ABStats{Count: simEvents, outs: simOutcomes}
	n := float64(simEvents)
	res := numericDefs[numLatency].resolution
	mean := simLatencyMean + shift + simLatencySD/math.Sqrt(n)*rng.NormFloat64()
	m2 := simLatencySD * simLatencySD * distuv.ChiSquared{K: n - 1, Src: rng}.Rand()
	// Σq and Σq² of the fixed-point values q = x/resolution.
	sq := math.Round(n * mean / res)
	ssq := math.Round(m2/(res*res) + sq*sq/n)
	s.moments[0] = exactMoments{n: simEvents, sum: i128From(int64(sq)), sumsq: i128FromFloat(ssq)}
	pos := distuv.Binomial{N: n, P: simRefusalRate, Src: rng}.Rand()
	s.outcomes[simRefusal] = outcomeCount{positives: uint64(pos), trials: simEvents}
}

// i128FromFloat converts a non-negative integral float below 2^64.
func i128FromFloat(f float64) i128 { return i128{lo: uint64(f)} }

func simByEvents(rng *rand.Rand, s *ABStats, shift float64) {
	*s = ABStats{Count: simEvents, outs: simOutcomes}
	res := numericDefs[numLatency].resolution
	for i := 0; i < simEvents; i++ {
		s.moments[0].add(simLatencyMean+shift+simLatencySD*rng.NormFloat64(), res)
		s.outcomes[simRefusal].trials++
		if rng.Float64() < simRefusalRate {
			s.outcomes[simRefusal].positives++
		}
	}
}

type simResult struct {
	latency, refusal, either int // experiments that ever declared a difference
	firstLook                int // latency decided at the first look
	naive                    int // Welch's test on the data so far ever below alpha
	decidedAt                []int
}

// simulate runs experiments experiments of at most windows looks each, the
// treatment's latency shifted by effect SDs; stopEarly ends an experiment
// once latency is decided. Experiment i draws from its own seed, so the
// result does not depend on how the work is split.
func simulate(seed uint64, experiments, windows int, effect float64, stopEarly bool, arm simArm) simResult {
	cfg := DefaultConfig()
	alpha := cfg.AB.Alpha
	res := simResult{decidedAt: make([]int, experiments)}
	var mu sync.Mutex
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			var local simResult
			for i := w; i < experiments; i += workers {
				rng := rand.New(rand.NewPCG(seed, uint64(i)))
				var e *Experiment
				var ctl, trt ABStats
				naive := false
				for k := 0; k < windows; k++ {
					arm(rng, &ctl, 0)
					arm(rng, &trt, effect*simLatencySD)
					e, _ = Advance(e, Key{Variant: "b"}, "control", int64(k*60), &ctl, &trt, cfg)
					if e.decided[simLatency] && res.decidedAt[i] == 0 {
						res.decidedAt[i] = k + 1 // distinct i per worker: no race
						if k == 0 {
							local.firstLook++
						}
						if stopEarly {
							break
						}
					}
					if !naive {
						mt, mc := e.moments(simLatency)
						naive = stats.WelchTTestMoments(mt, mc, 0).P < alpha // no interval: its quantile is costly
					}
				}
				if e.decided[simLatency] {
					local.latency++
				}
				if e.decided[simRefusal] {
					local.refusal++
				}
				if e.decided[simLatency] || e.decided[simRefusal] {
					local.either++
				}
				if naive {
					local.naive++
				}
			}
			mu.Lock()
			res.latency += local.latency
			res.refusal += local.refusal
			res.either += local.either
			res.firstLook += local.firstLook
			res.naive += local.naive
			mu.Unlock()
		}(w)
	}
	wg.Wait()
	return res
}

// windowsToDecision returns, sorted, the look at which each experiment
// decided (windows+1 for never).
func windowsToDecision(r simResult) []int {
	at := make([]int, 0, len(r.decidedAt))
	for _, k := range r.decidedAt {
		if k == 0 {
			k = simWindows + 1
		}
		at = append(at, k)
	}
	slices.Sort(at)
	return at
}

// TestSequentialABSimulation: under no effect, 2,000 experiments looked at
// after every one of 100 windows declare a difference in at most alpha of
// them; a 0.2-SD latency effect is decided within a few windows. The
// first look, a fixed-horizon test, rejects with the probability of its
// closed form. Run with -v for the figures (the README's).
func TestSequentialABSimulation(t *testing.T) {
	arm, mode := simArm(simByStatistics), "window statistics drawn from their exact distributions"
	if os.Getenv("SIGHTLINE_AB_SIM") == "events" {
		arm, mode = simByEvents, "every event added as Partial.Add does"
	}
	alpha := DefaultConfig().AB.Alpha
	n := float64(simExperiments)
	t.Logf("%d experiments, %d looks each, %d events per window and arm (%s), alpha %v",
		simExperiments, simWindows, simEvents, mode, alpha)

	null := simulate(1, simExperiments, simWindows, 0, false, arm)
	t.Logf("no effect: ever declared a difference in latency %.2f%%, refusal rate %.2f%%, either %.2f%%; "+
		"Welch's test on the data so far at every look: %.1f%%; at the first look: %.2f%%",
		100*float64(null.latency)/n, 100*float64(null.refusal)/n, 100*float64(null.either)/n,
		100*float64(null.naive)/n, 100*float64(null.firstLook)/n)
	if float64(null.latency)/n > alpha || float64(null.refusal)/n > alpha {
		t.Errorf("under no effect, %d (latency) and %d (refusal) of %d experiments declared a difference: more than alpha",
			null.latency, null.refusal, simExperiments)
	}
	// Peeking at a fixed-horizon test must be shown to fail where the
	// sequential test holds, or the simulation proves nothing.
	if float64(null.naive)/n < 3*alpha {
		t.Errorf("naive peeking rejected in only %.1f%%: the simulation does not look often enough", 100*float64(null.naive)/n)
	}

	eff := simulate(2, simExperiments, simWindows, simEffectSD, true, arm)
	at := windowsToDecision(eff)
	t.Logf("%.1f-SD latency effect: decided in %d of %d experiments; at the first look in %.2f%%; "+
		"windows to the decision: median %d, 99th percentile %d, max %d",
		simEffectSD, eff.latency, simExperiments, 100*float64(eff.firstLook)/n, at[len(at)/2], at[len(at)*99/100], at[len(at)-1])
	if eff.latency != simExperiments || at[len(at)-1] > 3 {
		t.Errorf("0.2-SD effect: decided in %d of %d experiments, the last after %d windows; want all within 3",
			eff.latency, simExperiments, at[len(at)-1])
	}

	// The first look is a fixed-horizon test: |θ̂| >= h with h the
	// half-width of stats.MSPRTInterval, so it rejects with probability
	// Φ((δ−h)/√V) + Φ((−δ−h)/√V). testdata/msprt_reference.py in
	// processors/stats (Python 3 math.erfc): first_look_reject_prob_0.2 =
	// 0.9994932359071135, first_look_reject_prob_0.05 =
	// 0.07260537321376606, first_look_reject_prob_0.0 =
	// 0.0023830334719005322. Tolerance: 3 binomial standard errors (the
	// sample variances stand in for σ², which moves the probability far
	// less than that at 2,000 events per arm).
	small := simulate(3, simExperiments, simWindows, 0.05, true, arm)
	sat := windowsToDecision(small)
	t.Logf("0.05-SD latency effect: decided in %d of %d experiments within %d windows; windows to the decision: median %d, 90th percentile %d, max %d",
		small.latency, simExperiments, simWindows, sat[len(sat)/2], sat[len(sat)*9/10], sat[len(sat)-1])
	for _, c := range []struct {
		name string
		got  int
		want float64
	}{
		{"0.05-SD effect", small.firstLook, 0.07260537321376606},
		{"0.2-SD effect", eff.firstLook, 0.9994932359071135},
		{"no effect", null.firstLook, 0.0023830334719005322},
	} {
		got := float64(c.got) / n
		se := math.Sqrt(c.want * (1 - c.want) / n)
		t.Logf("first look, %s: rejected in %.4f, closed form %.4f (±%.4f)", c.name, got, c.want, 3*se)
		if math.Abs(got-c.want) > 3*se+0.5/n {
			t.Errorf("first look, %s: rejected in %.4f of experiments, closed form %.4f", c.name, got, c.want)
		}
	}
}
