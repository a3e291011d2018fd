package decide

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/sightline-dev/sightline/processors/stats"
)

func normalHist(t *testing.T, rng *rand.Rand, n int, mean, sd float64) *stats.Histogram {
	t.Helper()
	h, err := stats.NewHistogram(stats.LinearEdges(-4, 4, 64))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		h.Add(mean + sd*rng.NormFloat64())
	}
	return h
}

func TestNumeric(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	ref := normalHist(t, rng, 5000, 0, 1)
	cases := []struct {
		name    string
		cur     *stats.Histogram
		drifted bool
		reasons []string
	}{
		{"same distribution", normalHist(t, rng, 5000, 0, 1), false, nil},
		{"small shift: KS only", normalHist(t, rng, 5000, 0.2, 1), true, []string{ReasonKS}},
		{"large shift: KS and PSI", normalHist(t, rng, 5000, 1, 1), true, []string{ReasonKS, ReasonPSI}},
		{"too few events", normalHist(t, rng, 50, 3, 1), false, []string{ReasonInsufficient}},
	}
	for _, c := range cases {
		d := Numeric(ref, c.cur, DefaultDriftConfig())
		if d.Drifted != c.drifted || !slices.Equal(d.Reasons, c.reasons) {
			t.Errorf("%s: drifted %v reasons %v, want %v %v (KS %+v PSI %.3f)", c.name, d.Drifted, d.Reasons, c.drifted, c.reasons, d.KS, d.PSI)
		}
	}
	// Bonferroni: with 1000 features the per-feature level is 1e-5.
	cfg := DefaultDriftConfig()
	cfg.Features = 1000
	if d := Numeric(ref, ref, cfg); d.Alpha != 1e-5 {
		t.Errorf("per-feature alpha %v, want 1e-5", d.Alpha)
	}
	other, _ := stats.NewHistogram(stats.LinearEdges(0, 1, 4))
	if d := Numeric(ref, other, DefaultDriftConfig()); d.Sufficient || d.Drifted {
		t.Errorf("mismatched edges must be insufficient: %+v", d)
	}
	if d := Numeric(nil, nil, DriftConfig{}); d.Sufficient {
		t.Error("nil histograms must be insufficient")
	}
}

func TestNumericSamples(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	draw := func(n int, mean float64) []float64 {
		s := make([]float64, n)
		for i := range s {
			s[i] = mean + rng.NormFloat64()
		}
		return s
	}
	ref := draw(1000, 0)
	if d := NumericSamples(ref, draw(1000, 0), DriftConfig{}); d.Drifted || !d.Sufficient || !d.KS.Exact {
		t.Errorf("stationary samples: %+v", d)
	}
	if d := NumericSamples(ref, draw(1000, 0.5), DriftConfig{}); !d.Drifted {
		t.Errorf("0.5-SD shift missed: %+v", d)
	}
}

func TestCategorical(t *testing.T) {
	ref := []float64{500, 300, 150, 50}
	if d := Categorical(ref, []float64{520, 290, 140, 50}, DriftConfig{}); d.Drifted || !d.Sufficient {
		t.Errorf("near-identical mix flagged: %+v", d)
	}
	if d := Categorical(ref, []float64{300, 300, 300, 100}, DriftConfig{}); !d.Drifted || !slices.Contains(d.Reasons, ReasonChiSquare) {
		t.Errorf("changed mix missed: %+v", d)
	}
	if d := Categorical(ref, []float64{1, 2}, DriftConfig{}); d.Sufficient {
		t.Errorf("mismatched categories must be insufficient: %+v", d)
	}
	if d := Categorical([]float64{200, 0}, []float64{300, 0}, DriftConfig{}); d.Drifted || !d.Sufficient {
		t.Errorf("single populated category: %+v", d)
	}
}

func TestEmbedding(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	vecs := func(n int, shift float64) [][]float64 {
		v := make([][]float64, n)
		for i := range v {
			v[i] = make([]float64, 16)
			for j := range v[i] {
				v[i][j] = rng.NormFloat64()
			}
			v[i][3] += shift
		}
		return v
	}
	ref := vecs(100, 0)
	if d := Embedding(ref, vecs(100, 0), DriftConfig{}); d.Drifted || !d.Sufficient {
		t.Errorf("stationary embeddings flagged: %+v", d)
	}
	if d := Embedding(ref, vecs(100, 2), DriftConfig{}); !d.Drifted {
		t.Errorf("shifted embeddings missed: %+v", d)
	}
	if d := Embedding(ref, vecs(3, 2), DriftConfig{}); d.Sufficient {
		t.Errorf("3 vectors must be insufficient: %+v", d)
	}
}

func TestBias(t *testing.T) {
	cases := []struct {
		name       string
		groups     []stats.GroupCount
		finding    bool
		sufficient bool
		flagged    []string
	}{
		{"parity", []stats.GroupCount{gc("a", 400, 2000), gc("b", 410, 2000)}, false, true, nil},
		{"10 points", []stats.GroupCount{gc("a", 400, 2000), gc("b", 600, 2000)}, true, true, []string{"b"}},
		{"one group only", []stats.GroupCount{gc("a", 400, 2000), gc("b", 30, 50)}, false, false, nil},
		{"no groups", nil, false, false, nil},
	}
	for _, c := range cases {
		d := Bias(c.groups, BiasConfig{})
		if d.Finding != c.finding || d.Sufficient != c.sufficient || !slices.Equal(d.Flagged, c.flagged) {
			t.Errorf("%s: %+v", c.name, d)
		}
	}
}

func gc(group string, positives, n float64) stats.GroupCount {
	return stats.GroupCount{Group: group, Positives: positives, N: n}
}
