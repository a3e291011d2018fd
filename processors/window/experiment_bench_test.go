package window

import (
	"encoding/json"
	"testing"
)

// BenchmarkExperimentLook is the aggregate stage's cost per closed window
// and treatment of the sequential A/B test: the arms' statistics, the look
// (every metric's mSPRT, interval and running state) and its ab_msprt
// rows.
func BenchmarkExperimentLook(b *testing.B) {
	cfg := DefaultConfig()
	ctl, trt := abArms(1, 2000)
	e := NewExperiment("control", "b", 0)
	b.ReportAllocs()
	w := int64(0)
	for b.Loop() {
		c, t := ctl[0].ABStats(), trt[0].ABStats()
		w += 60
		var ok bool
		if e, ok = Advance(e, trt[0].Key, "control", w, &c, &t, cfg); !ok {
			b.Fatal("no look")
		}
		_ = e.Signals(cfg)
	}
}

// BenchmarkExperimentLookEncode is the cost of storing one look
// (llm_experiments' state column).
func BenchmarkExperimentLookEncode(b *testing.B) {
	cfg := DefaultConfig()
	ctl, trt := abArms(3, 500)
	e, _ := run(b, ctl, trt, cfg)
	look := ExperimentLook{Window: 120, Control: ctl[2].ABStats(), Treatment: trt[2].ABStats(), State: e}
	b.ReportAllocs()
	var n int
	for b.Loop() {
		enc, err := json.Marshal(look)
		if err != nil {
			b.Fatal(err)
		}
		n = len(enc)
	}
	b.SetBytes(int64(n))
}
