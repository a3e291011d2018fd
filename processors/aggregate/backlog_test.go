package aggregate_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sightline-dev/sightline/internal/loadgen"
	"github.com/sightline-dev/sightline/internal/testenv"
	"github.com/sightline-dev/sightline/processors/aggregate"
	"github.com/sightline-dev/sightline/processors/detectors/registry"
	"github.com/sightline-dev/sightline/processors/score"
	"github.com/sightline-dev/sightline/processors/window"
)

// A backlog on every partition (the score stage was down while traffic
// went on) is scored partition by partition, in whatever order the broker
// hands them out: no window may close before the partitions scored more
// slowly have caught up. Every partial is merged on time (none late) and
// the signals count exactly the stored events per key and window.
func TestBacklogClosesNoWindowEarly(t *testing.T) {
	p := &pipeline{t: t, b: testenv.Broker(t, ""), rollup: -1}
	p.conn, _ = testenv.Database(t)
	t0 := time.Now().Add(-7 * time.Hour).Truncate(winSize)
	const n = 20000
	// 20,000 events over 20 windows of event time, all produced before
	// any stage runs. Event time is a call's start, so within a partition
	// it is out of order by up to a call's duration (seconds), and by what
	// the SDK clients (one per app) batch before a partition gets it:
	// produced at 4,000 events/s, event time runs 40x the wall clock, so a
	// few ms of batching stay well inside the minute of lateness. The skew
	// between partitions scored one after another is far larger.
	_, err := loadgen.Run(context.Background(), loadgen.Config{Brokers: p.b.Addrs(), Count: n, Seed: 9, Rate: 4000, Now: clock(t0, 10*time.Millisecond)})
	testenv.Must(t, err, "loadgen")

	dets, err := registry.Build(nil)
	testenv.Must(t, err, "detectors")
	st, err := score.New(score.Config{Brokers: p.b.Addrs(), Detectors: dets, BatchSize: 700, FlushInterval: 50 * time.Millisecond,
		Partials: aggregate.NewCollector(winSize, window.DefaultConfig())}, p.conn, prometheus.NewRegistry())
	testenv.Must(t, err, "score stage")
	reg := prometheus.NewRegistry()
	ag, err := aggregate.New(aggregate.Config{Brokers: p.b.Addrs(), Window: winSize, Rollup: -1, Lateness: time.Minute,
		IdleClose: 2 * time.Second, SessionTimeout: 30 * time.Second, WindowConfig: window.DefaultConfig()}, p.conn, reg)
	testenv.Must(t, err, "aggregate stage")
	p.run(ag.Run)
	p.run(st.Run)
	t.Cleanup(p.stop)

	p.waitSettled(uint32(winSize/time.Second), t0.Add(-time.Hour), t0.Add(time.Hour), n)
	late := gatherCounter(t, reg, "sightline_aggregate_late_partials_total")
	corrected := gatherCounter(t, reg, "sightline_aggregate_corrected_windows_total")
	t.Logf("%d events scored from a backlog: %v late partials, %v corrected windows", n, late, corrected)
	if late != 0 {
		t.Fatalf("%v partials arrived after their window was written", late)
	}
}

func gatherCounter(t *testing.T, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	testenv.Must(t, err, "gather")
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		var sum float64
		for _, m := range mf.GetMetric() {
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
		return sum
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}
