package window

import (
	"math"
	"math/big"
	"math/bits"

	"github.com/sightline-dev/sightline/processors/stats"
)

// i128 is a 128-bit two's-complement integer. Sums of fixed-point values
// in it are exact and associative, which floating-point sums are not: that
// is what makes merged partials byte-identical in any merge order.
type i128 struct{ hi, lo uint64 }

func (a *i128) add(b i128) {
	var c uint64
	a.lo, c = bits.Add64(a.lo, b.lo, 0)
	a.hi, _ = bits.Add64(a.hi, b.hi, c)
}

func i128From(v int64) i128 {
	if v < 0 {
		return i128{hi: math.MaxUint64, lo: uint64(v)}
	}
	return i128{lo: uint64(v)}
}

func (a i128) big() *big.Int {
	x := new(big.Int).SetUint64(a.hi)
	x.Lsh(x, 64)
	x.Or(x, new(big.Int).SetUint64(a.lo))
	if a.hi>>63 == 1 {
		x.Sub(x, new(big.Int).Lsh(big.NewInt(1), 128))
	}
	return x
}

// maxQ bounds |q| so that Σq² cannot overflow 128 bits before 2^27 events
// with every value at the bound.
const maxQ = 1 << 50

// exactMoments accumulates n, Σq and Σq² of fixed-point values q =
// round(x/resolution), clamped to ±maxQ.
type exactMoments struct {
	n     uint64
	sum   i128
	sumsq i128
}

func (m *exactMoments) add(x, resolution float64) {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return
	}
	q := math.Round(x / resolution)
	q = math.Max(-maxQ, math.Min(maxQ, q))
	v := int64(q)
	m.n++
	m.sum.add(i128From(v))
	u := uint64(v)
	if v < 0 {
		u = uint64(-v)
	}
	hi, lo := bits.Mul64(u, u)
	m.sumsq.add(i128{hi, lo})
}

func (m *exactMoments) merge(o *exactMoments) {
	m.n += o.n
	m.sum.add(o.sum)
	m.sumsq.add(o.sumsq)
}

// sumValue returns Σx in the feature's unit.
func (m *exactMoments) sumValue(resolution float64) float64 {
	f, _ := new(big.Float).SetInt(m.sum.big()).Float64()
	return f * resolution
}

// moments converts to stats.Moments: mean = Σq/n·r and M2 =
// (n·Σq² − (Σq)²)/n·r², the numerator evaluated exactly.
func (m *exactMoments) moments(resolution float64) stats.Moments {
	if m.n == 0 {
		return stats.Moments{}
	}
	n := new(big.Int).SetUint64(m.n)
	s := m.sum.big()
	num := new(big.Int).Mul(n, m.sumsq.big())
	num.Sub(num, new(big.Int).Mul(s, s))
	if num.Sign() < 0 { // impossible for consistent sums; corrupt input
		num.SetInt64(0)
	}
	fn := float64(m.n)
	mean, _ := new(big.Float).Quo(new(big.Float).SetInt(s), new(big.Float).SetInt(n)).Float64()
	m2, _ := new(big.Float).Quo(new(big.Float).SetInt(num), new(big.Float).SetInt(n)).Float64()
	return stats.Moments{N: fn, Mean: mean * resolution, M2: m2 * resolution * resolution}
}
