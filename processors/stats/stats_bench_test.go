package stats

import (
	"math/rand/v2"
	"testing"
)

func benchHists(b *testing.B) (*Histogram, *Histogram) {
	b.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	ref, err := NewHistogram(LinearEdges(-4, 4, 64))
	if err != nil {
		b.Fatal(err)
	}
	cur := ref.Clone()
	for i := 0; i < 2000; i++ {
		ref.Add(rng.NormFloat64())
		cur.Add(rng.NormFloat64() + 0.2)
	}
	return ref, cur
}

func BenchmarkHistogramAdd(b *testing.B) {
	h, _ := NewHistogram(LinearEdges(-4, 4, 64))
	xs := make([]float64, 1024)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range xs {
		xs[i] = rng.NormFloat64()
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		h.Add(xs[i&1023])
	}
}

func BenchmarkHistogramMerge(b *testing.B) {
	ref, cur := benchHists(b)
	b.ReportAllocs()
	for b.Loop() {
		_ = ref.Merge(cur)
	}
}

func BenchmarkMomentsAdd(b *testing.B) {
	var m Moments
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		m.Add(float64(i & 1023))
	}
}

func BenchmarkKSHistogram64(b *testing.B) {
	ref, cur := benchHists(b)
	b.ReportAllocs()
	for b.Loop() {
		KSHistogram(ref, cur)
	}
}

func BenchmarkPSIHistogram64(b *testing.B) {
	ref, cur := benchHists(b)
	b.ReportAllocs()
	for b.Loop() {
		PSIHistogram(ref, cur)
	}
}

func BenchmarkJSDistanceHistogram64(b *testing.B) {
	ref, cur := benchHists(b)
	b.ReportAllocs()
	for b.Loop() {
		JSDistanceHistogram(ref, cur)
	}
}

func BenchmarkWassersteinHistogram64(b *testing.B) {
	ref, cur := benchHists(b)
	b.ReportAllocs()
	for b.Loop() {
		WassersteinHistogram(ref, cur)
	}
}

func benchSamples(n int) (x, y []float64) {
	rng := rand.New(rand.NewPCG(3, 4))
	x, y = make([]float64, n), make([]float64, n)
	for i := range x {
		x[i] = rng.NormFloat64()
		y[i] = rng.NormFloat64() + 0.1
	}
	return x, y
}

func BenchmarkMannWhitney2x2000(b *testing.B) {
	x, y := benchSamples(2000)
	b.ReportAllocs()
	for b.Loop() {
		MannWhitneyU(x, y)
	}
}

func BenchmarkKS2SampleExact2x2000(b *testing.B) {
	x, y := benchSamples(2000)
	b.ReportAllocs()
	for b.Loop() {
		KS2Sample(x, y)
	}
}

func BenchmarkWelchTTest(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		WelchTTest(2000, 1, 1, 2000, 1.1, 1.2, 0.95)
	}
}

func BenchmarkMMDTest2x100x384(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	vecs := func() [][]float64 {
		v := make([][]float64, 100)
		for i := range v {
			v[i] = make([]float64, 384)
			for j := range v[i] {
				v[i][j] = rng.NormFloat64()
			}
		}
		return v
	}
	x, y := vecs(), vecs()
	b.Run("full", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			MMDTest(x, y, Kernel{Kind: RBF}, 200, 0.01, 1)
		}
	})
	// The same samples (no drift) decided with early stopping.
	b.Run("decision", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			MMDDecision(x, y, Kernel{Kind: RBF}, 200, 0.01, 1)
		}
	})
}
