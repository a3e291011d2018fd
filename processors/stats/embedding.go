package stats

import (
	"math"
	"math/rand/v2"
	"sort"
)

// Metric selects the distance used by CentroidDistance.
type Metric int

const (
	// Cosine is 1 − cos(a, b), in [0, 2].
	Cosine Metric = iota
	// Euclidean is ‖a − b‖₂.
	Euclidean
)

// Centroid returns the mean vector of fixed-size vectors, or nil when vs is
// empty or the dimensions differ.
func Centroid(vs [][]float64) []float64 {
	if len(vs) == 0 || len(vs[0]) == 0 {
		return nil
	}
	d := len(vs[0])
	c := make([]float64, d)
	for _, v := range vs {
		if len(v) != d {
			return nil
		}
		for i, x := range v {
			c[i] += x
		}
	}
	for i := range c {
		c[i] /= float64(len(vs))
	}
	return c
}

// CentroidDistance is the distance between the centroids (mean vectors) of
// two sets of embedding vectors. Centroids are mergeable (sum and count), so
// the stream can keep them per window. Special cases: empty sets, differing
// dimensions, or (Cosine) a zero centroid give NaN.
func CentroidDistance(ref, cur [][]float64, metric Metric) float64 {
	return VectorDistance(Centroid(ref), Centroid(cur), metric)
}

// VectorDistance is the Cosine or Euclidean distance between two vectors of
// equal, non-zero length; NaN otherwise (and for Cosine with a zero vector).
func VectorDistance(a, b []float64, metric Metric) float64 {
	if len(a) == 0 || len(a) != len(b) {
		return math.NaN()
	}
	switch metric {
	case Euclidean:
		return math.Sqrt(sqDist(a, b))
	case Cosine:
		var dot, na, nb float64
		for i := range a {
			dot += a[i] * b[i]
			na += a[i] * a[i]
			nb += b[i] * b[i]
		}
		if !(na > 0 && nb > 0) {
			return math.NaN()
		}
		return 1 - dot/math.Sqrt(na*nb)
	}
	return math.NaN()
}

// KernelKind selects the MMD kernel.
type KernelKind int

const (
	// RBF is k(x, y) = exp(−‖x − y‖²/(2σ²)).
	RBF KernelKind = iota
	// Linear is k(x, y) = ⟨x, y⟩; MMD² is then the squared distance between
	// the means (estimated without the diagonal terms).
	Linear
)

// Kernel is an MMD kernel. For RBF a Bandwidth σ <= 0 selects the median
// heuristic: σ = the median of the pairwise Euclidean distances of the pooled
// sample (Gretton et al. 2012).
type Kernel struct {
	Kind      KernelKind
	Bandwidth float64
}

// MMDResult is a maximum mean discrepancy permutation test.
type MMDResult struct {
	MMD2      float64 // unbiased MMD² estimate
	Threshold float64 // (1−α) quantile of MMD² under permutation
	P         float64 // permutation p-value, (1 + #{MMD²_perm >= MMD²})/(1 + B)
	Bandwidth float64 // σ used (RBF)
	// Permutations is the number of shuffles made: B, or fewer when
	// MMDDecision stopped early.
	Permutations int
}

// MMD2 is the unbiased estimate of the squared maximum mean discrepancy
// between samples x (m vectors) and y (n vectors) (Gretton et al. 2012,
// eq. 3):
//
//	MMD²_u = 1/(m(m−1)) Σ_{i≠j} k(x_i,x_j) + 1/(n(n−1)) Σ_{i≠j} k(y_i,y_j)
//	         − 2/(mn) Σ_{i,j} k(x_i,y_j)
//
// It can be slightly negative when the distributions agree. Special cases:
// fewer than two vectors on a side or differing dimensions give NaN.
func MMD2(x, y [][]float64, k Kernel) float64 {
	return MMDTest(x, y, k, 0, 0.05, 0).MMD2
}

// MMDTest computes MMD2 and a permutation test: the pooled sample's labels
// are shuffled B = permutations times with a PCG generator seeded by seed,
// giving the p-value and the (1−alpha) quantile of the permutation
// distribution (the detection threshold). The same inputs and seed always
// give the same result. The pooled kernel matrix is computed once, so the
// cost is O((m+n)²·(d + B)). permutations <= 0 skips the test (P and
// Threshold NaN). Special cases as MMD2.
func MMDTest(x, y [][]float64, k Kernel, permutations int, alpha float64, seed uint64) MMDResult {
	return mmdTest(x, y, k, permutations, alpha, seed, false)
}

// MMDDecision is MMDTest for a decision at level alpha (P < alpha). It
// stops shuffling as soon as the p-value can no longer fall below alpha,
// that is once (1 + #{MMD²_perm >= MMD²})/(1 + B) >= alpha: the decision is
// then "no difference" whatever the remaining shuffles would give, so it is
// always the one MMDTest makes with the same seed, and samples that agree
// cost a few shuffles instead of B. A test that does not stop early is
// exactly MMDTest's. One that does reports P = (1 + #{>=})/(1 + shuffles
// made), at least alpha, Threshold NaN, and the shuffles made in
// Permutations.
func MMDDecision(x, y [][]float64, k Kernel, permutations int, alpha float64, seed uint64) MMDResult {
	return mmdTest(x, y, k, permutations, alpha, seed, true)
}

func mmdTest(x, y [][]float64, k Kernel, permutations int, alpha float64, seed uint64, early bool) MMDResult {
	nan := math.NaN()
	res := MMDResult{MMD2: nan, Threshold: nan, P: nan, Bandwidth: nan}
	m, n := len(x), len(y)
	if m < 2 || n < 2 || len(x[0]) == 0 {
		return res
	}
	d := len(x[0])
	pool := make([][]float64, 0, m+n)
	for _, v := range append(append([][]float64(nil), x...), y...) {
		if len(v) != d {
			return res
		}
		pool = append(pool, v)
	}
	N := m + n
	K := make([]float64, N*N)
	switch k.Kind {
	case Linear:
		for i := 0; i < N; i++ {
			for j := i; j < N; j++ {
				var s float64
				for t := 0; t < d; t++ {
					s += pool[i][t] * pool[j][t]
				}
				K[i*N+j], K[j*N+i] = s, s
			}
		}
	case RBF:
		for i := 0; i < N; i++ {
			for j := i + 1; j < N; j++ {
				s := sqDist(pool[i], pool[j])
				K[i*N+j], K[j*N+i] = s, s
			}
		}
		sigma := k.Bandwidth
		if !(sigma > 0) {
			ds := make([]float64, 0, N*(N-1)/2)
			for i := 0; i < N; i++ {
				for j := i + 1; j < N; j++ {
					ds = append(ds, K[i*N+j])
				}
			}
			sort.Float64s(ds)
			sigma = math.Sqrt(median(ds))
			if !(sigma > 0) {
				sigma = 1 // all points equal: any bandwidth gives MMD² = 0
			}
		}
		res.Bandwidth = sigma
		g := 1 / (2 * sigma * sigma)
		for i := 0; i < N; i++ {
			for j := i; j < N; j++ {
				v := math.Exp(-K[i*N+j] * g)
				K[i*N+j], K[j*N+i] = v, v
			}
		}
	default:
		return res
	}
	idx := make([]int, N)
	for i := range idx {
		idx[i] = i
	}
	res.MMD2 = mmd2FromKernel(K, N, idx, m)
	if permutations <= 0 || math.IsNaN(res.MMD2) {
		return res
	}
	rng := rand.New(rand.NewPCG(seed, 0x5157_a7e5))
	perm := make([]float64, permutations)
	ge := 0
	for b := range perm {
		rng.Shuffle(N, func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		perm[b] = mmd2FromKernel(K, N, idx, m)
		if perm[b] >= res.MMD2 {
			ge++
			if early && float64(1+ge)/float64(1+permutations) >= alpha && b+1 < permutations {
				res.Permutations = b + 1
				res.P = float64(1+ge) / float64(2+b)
				return res
			}
		}
	}
	res.Permutations = permutations
	sort.Float64s(perm)
	res.P = float64(1+ge) / float64(1+permutations)
	if alpha > 0 && alpha < 1 {
		q := int(math.Ceil((1-alpha)*float64(permutations))) - 1
		q = max(0, min(q, permutations-1))
		res.Threshold = perm[q]
	}
	return res
}

// mmd2FromKernel evaluates the unbiased MMD² with idx[:m] as the first
// sample and idx[m:] as the second.
func mmd2FromKernel(K []float64, N int, idx []int, m int) float64 {
	n := N - m
	var xx, yy, xy float64
	for a := 0; a < N; a++ {
		ra := K[idx[a]*N:]
		for b := a + 1; b < N; b++ {
			v := ra[idx[b]]
			switch {
			case b < m:
				xx += v
			case a >= m:
				yy += v
			default:
				xy += v
			}
		}
	}
	fm, fn := float64(m), float64(n)
	return 2*xx/(fm*(fm-1)) + 2*yy/(fn*(fn-1)) - 2*xy/(fm*fn)
}

func sqDist(a, b []float64) float64 {
	var s float64
	for i := range a {
		d := a[i] - b[i]
		s += d * d
	}
	return s
}

// median of sorted values.
func median(s []float64) float64 {
	if len(s) == 0 {
		return math.NaN()
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return 0.5 * (s[len(s)/2-1] + s[len(s)/2])
}
