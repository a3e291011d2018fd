package sdk

import (
	"math"
	"testing"

	"github.com/google/uuid"
)

// SampleRate keeps that fraction of calls. Over n = 100000 ids the kept
// fraction has a standard deviation of at most sqrt(0.25/n) = 0.0016; the
// tolerance is 0.01, over six of them.
func TestSampleRateKeepsThatFraction(t *testing.T) {
	const n = 100000
	ids := make([]uuid.UUID, n)
	for i := range ids {
		ids[i] = uuid.Must(uuid.NewV7())
	}
	for _, rate := range []float64{0.01, 0.1, 0.25, 0.5, 0.75, 0.9} {
		kept := 0
		for _, id := range ids {
			if keep(id, rate) {
				kept++
			}
		}
		if got := float64(kept) / n; math.Abs(got-rate) > 0.01 {
			t.Errorf("SampleRate(%v) kept %.4f of the calls", rate, got)
		}
	}
}
