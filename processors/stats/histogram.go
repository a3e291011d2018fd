package stats

import (
	"errors"
	"math"
	"sort"
)

// Histogram is a mergeable fixed-bin histogram. Edges e_0 < e_1 < ... < e_k
// define k inner bins; Counts has k+2 entries:
//
//	Counts[0]     underflow, x < e_0
//	Counts[i]     e_{i-1} <= x < e_i, for i = 1..k
//	Counts[k+1]   overflow, x >= e_k
//
// NaN values are counted in NaN and take part in no statistic. Counts are
// float64 so that sampled events can carry their inverse sampling rate as a
// weight. Two histograms merge by adding counts, which requires identical
// edges: bin layouts are configuration, fixed per feature, never adapted to a
// window's data.
type Histogram struct {
	Edges  []float64
	Counts []float64
	NaN    float64
}

// ErrEdges is returned by NewHistogram for fewer than two edges, or edges that
// are not finite and strictly increasing.
var ErrEdges = errors.New("histogram edges must be at least two finite, strictly increasing values")

// ErrEdgesMismatch is returned by Histogram.Merge when the edges differ.
var ErrEdgesMismatch = errors.New("cannot merge histograms with different edges")

// NewHistogram returns an empty histogram over a copy of edges.
func NewHistogram(edges []float64) (*Histogram, error) {
	if len(edges) < 2 {
		return nil, ErrEdges
	}
	for i, e := range edges {
		if math.IsNaN(e) || math.IsInf(e, 0) || (i > 0 && e <= edges[i-1]) {
			return nil, ErrEdges
		}
	}
	return &Histogram{
		Edges:  append([]float64(nil), edges...),
		Counts: make([]float64, len(edges)+1),
	}, nil
}

// LinearEdges returns k+1 equally spaced edges from lo to hi, or nil when
// k < 1 or lo >= hi.
func LinearEdges(lo, hi float64, k int) []float64 {
	if k < 1 || !(lo < hi) || math.IsInf(lo, 0) || math.IsInf(hi, 0) {
		return nil
	}
	e := make([]float64, k+1)
	w := (hi - lo) / float64(k)
	for i := range e {
		e[i] = lo + float64(i)*w
	}
	e[k] = hi
	return e
}

// QuantileEdges returns up to k+1 edges at the empirical quantiles
// 0, 1/k, ..., 1 of a reference sample (type-7 interpolation, as numpy's
// default), with duplicates removed; used to fix a feature's bins from its
// baseline so that every bin holds about the same reference mass (the usual
// binning for PSI). It returns nil when fewer than two distinct edges remain.
// NaN values in sample are ignored; sample is not modified.
func QuantileEdges(sample []float64, k int) []float64 {
	if k < 1 {
		return nil
	}
	s := make([]float64, 0, len(sample))
	for _, v := range sample {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			s = append(s, v)
		}
	}
	if len(s) < 2 {
		return nil
	}
	sort.Float64s(s)
	e := make([]float64, 0, k+1)
	for i := 0; i <= k; i++ {
		h := float64(len(s)-1) * float64(i) / float64(k)
		lo := int(math.Floor(h))
		v := s[lo]
		if lo+1 < len(s) {
			v += (h - float64(lo)) * (s[lo+1] - s[lo])
		}
		if len(e) == 0 || v > e[len(e)-1] {
			e = append(e, v)
		}
	}
	if len(e) < 2 {
		return nil
	}
	return e
}

// Bin returns the index into Counts of the bin holding x, or -1 for NaN.
func (h *Histogram) Bin(x float64) int {
	if math.IsNaN(x) {
		return -1
	}
	// Number of edges <= x is the Counts index: 0 means underflow,
	// len(Edges) means overflow.
	return sort.Search(len(h.Edges), func(i int) bool { return h.Edges[i] > x })
}

// Add counts one observation.
func (h *Histogram) Add(x float64) { h.AddWeighted(x, 1) }

// AddWeighted counts an observation with weight w (for example the inverse
// of the sampling rate). Non-finite or negative weights are ignored.
func (h *Histogram) AddWeighted(x, w float64) {
	if !(w >= 0) || math.IsInf(w, 0) {
		return
	}
	i := h.Bin(x)
	if i < 0 {
		h.NaN += w
		return
	}
	h.Counts[i] += w
}

// Merge adds o's counts into h. It returns ErrEdgesMismatch, leaving h
// unchanged, when the edges differ.
func (h *Histogram) Merge(o *Histogram) error {
	if o == nil {
		return nil
	}
	if !sameEdges(h.Edges, o.Edges) || len(h.Counts) != len(o.Counts) {
		return ErrEdgesMismatch
	}
	for i, c := range o.Counts {
		h.Counts[i] += c
	}
	h.NaN += o.NaN
	return nil
}

// Clone returns a deep copy of h.
func (h *Histogram) Clone() *Histogram {
	return &Histogram{
		Edges:  append([]float64(nil), h.Edges...),
		Counts: append([]float64(nil), h.Counts...),
		NaN:    h.NaN,
	}
}

// Reset zeroes the counts and keeps the edges.
func (h *Histogram) Reset() {
	for i := range h.Counts {
		h.Counts[i] = 0
	}
	h.NaN = 0
}

// Total is the sum of all counts except NaN.
func (h *Histogram) Total() float64 {
	var t float64
	for _, c := range h.Counts {
		t += c
	}
	return t
}

// CDF returns the empirical distribution function at each edge,
// F(e_j) = (Counts[0] + ... + Counts[j]) / Total for j = 0..k, that is the
// fraction of observations below e_j. It returns nil for an empty histogram.
func (h *Histogram) CDF() []float64 {
	t := h.Total()
	if !(t > 0) {
		return nil
	}
	f := make([]float64, len(h.Edges))
	var cum float64
	for j := range f {
		cum += h.Counts[j]
		f[j] = cum / t
	}
	return f
}

// Midpoints returns a representative value for each entry of Counts: the bin
// midpoint for inner bins, e_0 for the underflow bin and e_k for the overflow
// bin. Used by the histogram forms of the Wasserstein distance.
func (h *Histogram) Midpoints() []float64 {
	k := len(h.Edges) - 1
	m := make([]float64, k+2)
	m[0] = h.Edges[0]
	for i := 1; i <= k; i++ {
		m[i] = 0.5 * (h.Edges[i-1] + h.Edges[i])
	}
	m[k+1] = h.Edges[k]
	return m
}

func sameEdges(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// compatible reports whether two histograms can be compared bin by bin.
func compatible(a, b *Histogram) bool {
	return a != nil && b != nil && sameEdges(a.Edges, b.Edges) &&
		len(a.Counts) == len(a.Edges)+1 && len(b.Counts) == len(b.Edges)+1
}
