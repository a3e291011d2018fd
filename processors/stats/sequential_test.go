package stats

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestMSPRTInterval(t *testing.T) {
	// testdata/msprt_reference.py (Python 3 math):
	// interval_0.3_0.01_0.01_0.05 = -0.06563948713638484 0.6656394871363849
	lo, hi := MSPRTInterval(0.3, 0.01, 0.01, 0.05)
	near(t, "lo", lo, -0.06563948713638484, 1e-12)
	near(t, "hi", hi, 0.6656394871363849, 1e-12)
	// The bounds are where the mSPRT of H0: θ = bound rejects exactly at
	// α: 1/Λ(θ̂ − bound) = α.
	near(t, "1/Λ at lo", MSPRT(0.3-lo, 0.01, 0.01), 0.05, 1e-12)
	near(t, "1/Λ at hi", MSPRT(0.3-hi, 0.01, 0.01), 0.05, 1e-12)
	// Robbins' boundary in the sum scale (Howard et al. 2021): n = 100
	// observations of variance 1 (V_n = 100), ρ = σ⁴/τ² = 100.
	s := math.Sqrt((100 + 100) * math.Log((100+100)/(100*0.05*0.05)))
	near(t, "Robbins", hi-0.3, s/100, 1e-12)
	for _, c := range [][4]float64{{0, 0, 1, 0.05}, {0, 1, 0, 0.05}, {0, 1, 1, 0}, {0, 1, 1, 1}, {math.NaN(), 1, 1, 0.05}, {0, math.Inf(1), 1, 0.05}} {
		if lo, hi := MSPRTInterval(c[0], c[1], c[2], c[3]); !math.IsNaN(lo) || !math.IsNaN(hi) {
			t.Errorf("MSPRTInterval%v = [%v, %v], want NaN", c, lo, hi)
		}
	}
}

func TestSequentialRunningMinimumAndIntersection(t *testing.T) {
	var s Sequential
	if s.PValue() != 1 {
		t.Fatal("no look: p must be 1")
	}
	if lo, hi := s.Interval(); !math.IsInf(lo, -1) || !math.IsInf(hi, 1) {
		t.Fatal("no look: the interval must be the real line")
	}
	if s.Update(0.1, 0, 0.01, 0.05) || s.Looks != 0 {
		t.Fatal("an undefined look must change nothing")
	}
	looks := []struct{ diff, v float64 }{{0.3, 0.01}, {0.05, 0.005}, {0.2, 0.002}}
	p, lo, hi := 1.0, math.Inf(-1), math.Inf(1)
	for i, l := range looks {
		if !s.Update(l.diff, l.v, 0.01, 0.05) {
			t.Fatalf("look %d refused", i)
		}
		p = math.Min(p, MSPRT(l.diff, l.v, 0.01))
		llo, lhi := MSPRTInterval(l.diff, l.v, 0.01, 0.05)
		lo, hi = math.Max(lo, llo), math.Min(hi, lhi)
		if s.PValue() != p || s.Lo != lo || s.Hi != hi || s.Looks != i+1 {
			t.Fatalf("look %d: %+v, want p %v [%v, %v]", i, s, p, lo, hi)
		}
		// 0 is outside the sequence exactly when p <= α.
		if (s.Lo > 0 || s.Hi < 0) != (s.P <= 0.05) {
			t.Fatalf("look %d: interval [%v, %v] and p %v disagree", i, s.Lo, s.Hi, s.P)
		}
	}
	// A look whose interval misses the sequence: the latest interval.
	s = Sequential{Looks: 3, P: 0.01, Lo: 0.1, Hi: 0.2}
	s.Update(0.5, 0.0001, 0.01, 0.05)
	if wlo, whi := MSPRTInterval(0.5, 0.0001, 0.01, 0.05); s.Lo != wlo || s.Hi != whi {
		t.Fatalf("empty intersection: [%v, %v], want the latest interval [%v, %v]", s.Lo, s.Hi, wlo, whi)
	}
}

// TestConfidenceSequenceCoverage: under a true difference of 0.1 SD, the
// confidence sequence excludes the truth at some look in at most α of the
// runs, however many looks (400 runs of 50 looks of 100 pairs; the bound
// allows 2 binomial SEs), while it shrinks around the truth.
func TestConfidenceSequenceCoverage(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	const runs, looks, batch, alpha, theta = 400, 50, 100, 0.05, 0.1
	missed := 0
	var width float64
	for r := 0; r < runs; r++ {
		var a, b Moments
		var s Sequential
		miss := false
		for l := 0; l < looks; l++ {
			for i := 0; i < batch; i++ {
				a.Add(rng.NormFloat64())
				b.Add(rng.NormFloat64() + theta)
			}
			va, vb := a.Variance(), b.Variance()
			s.Update(b.Mean-a.Mean, va/a.N+vb/b.N, 0.01*(va+vb)/2, alpha)
			if s.Lo > theta || s.Hi < theta {
				miss = true
			}
		}
		if miss {
			missed++
		}
		width += (s.Hi - s.Lo) / runs
	}
	rate := float64(missed) / runs
	t.Logf("confidence sequence missed the true difference in %.3f of runs; mean final width %.3f SD", rate, width)
	if rate > alpha+2*math.Sqrt(alpha*(1-alpha)/runs) {
		t.Errorf("coverage failure rate %.3f exceeds %.2f", rate, alpha)
	}
	if width > 0.2 {
		t.Errorf("final width %.3f: the sequence does not shrink", width)
	}
}
