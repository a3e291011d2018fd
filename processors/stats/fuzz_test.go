package stats

import (
	"encoding/binary"
	"math"
	"testing"
)

// FuzzDriftStatistics feeds arbitrary values and counts to the drift
// statistics: they must never panic, and what they return must be NaN or
// inside its documented range.
func FuzzDriftStatistics(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17})
	f.Add(make([]byte, 64))
	f.Add([]byte{0xff, 0xf8, 0, 0, 0, 0, 0, 1, 0x7f, 0xf0, 0, 0, 0, 0, 0, 0, 3})
	f.Fuzz(func(t *testing.T, data []byte) {
		var vals []float64
		for len(data) >= 8 {
			vals = append(vals, math.Float64frombits(binary.LittleEndian.Uint64(data)))
			data = data[8:]
		}
		half := len(vals) / 2
		x, y := vals[:half], vals[half:]
		inUnit := func(name string, v float64) {
			if !math.IsNaN(v) && (v < 0 || v > 1) {
				t.Fatalf("%s = %v outside [0,1] for %v %v", name, v, x, y)
			}
		}
		if len(x)*len(y) <= 1e4 {
			r := KS2Sample(x, y)
			inUnit("KS D", r.D)
			inUnit("KS P", r.P)
		}
		inUnit("MannWhitney P", MannWhitneyU(x, y).P)
		inUnit("JS", JSDistance(x, y))
		inUnit("ChiSquare P", ChiSquareHomogeneity(x, y).P)
		_ = PSI(x, y)
		_ = WassersteinSamples(x, y)
		h, _ := NewHistogram(LinearEdges(-1, 1, 4))
		g := h.Clone()
		for _, v := range x {
			h.Add(v)
		}
		for _, v := range y {
			g.AddWeighted(v, math.Abs(v))
		}
		r := KSHistogram(h, g)
		inUnit("KSHistogram D", r.D)
		inUnit("KSHistogram P", r.P)
		inUnit("JSHistogram", JSDistanceHistogram(h, g))
		_ = PSIHistogram(h, g)
		_ = WassersteinHistogram(h, g)
		if len(vals) >= 6 {
			inUnit("TwoProportion P", TwoProportionZTest(vals[0], vals[1], vals[2], vals[3], 0.95).P)
			w := WelchTTest(vals[0], vals[1], vals[2], vals[3], vals[4], vals[5], 0.95)
			inUnit("Welch P", w.P)
			lo, hi := Wilson(vals[0], vals[1], 0.95)
			inUnit("Wilson lo", lo)
			inUnit("Wilson hi", hi)
		}
	})
}
