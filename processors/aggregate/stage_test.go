package aggregate_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sightline-dev/sightline/internal/broker"
	"github.com/sightline-dev/sightline/internal/loadgen"
	"github.com/sightline-dev/sightline/internal/testenv"
	"github.com/sightline-dev/sightline/processors/aggregate"
	"github.com/sightline-dev/sightline/processors/registry"
	"github.com/sightline-dev/sightline/processors/score"
	"github.com/sightline-dev/sightline/processors/window"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const winSize = 10 * time.Second

// pipeline runs a score stage (with the collector) and an aggregate stage
// in-process against the test broker and database.
type pipeline struct {
	t      *testing.T
	b      *broker.Broker
	conn   driver.Conn
	cancel []context.CancelFunc
	wg     sync.WaitGroup
}

func newPipeline(t *testing.T) *pipeline {
	p := &pipeline{t: t, b: testenv.Broker(t, "")}
	p.conn, _ = testenv.Database(t)
	dets, err := registry.Build(nil)
	testenv.Must(t, err, "detectors")
	st, err := score.New(score.Config{Brokers: p.b.Addrs(), Detectors: dets, BatchSize: 1000, FlushInterval: 200 * time.Millisecond,
		Partials: aggregate.NewCollector(winSize, window.DefaultConfig())}, p.conn, prometheus.NewRegistry())
	testenv.Must(t, err, "score stage")
	p.run(st.Run)
	p.startAggregate()
	t.Cleanup(p.stop)
	return p
}

func (p *pipeline) startAggregate() {
	ag, err := aggregate.New(aggregate.Config{Brokers: p.b.Addrs(), Window: winSize, Rollup: -1, Lateness: 2 * winSize,
		IdleClose: 2 * time.Second, BaselineWindows: 3, SessionTimeout: 6 * time.Second, WindowConfig: window.DefaultConfig()},
		p.conn, prometheus.NewRegistry())
	testenv.Must(p.t, err, "aggregate stage")
	p.run(ag.Run)
}

func (p *pipeline) run(fn func(context.Context) error) {
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = append(p.cancel, cancel)
	p.wg.Add(1)
	go func() { defer p.wg.Done(); fn(ctx) }()
}

func (p *pipeline) stop() {
	for _, c := range p.cancel {
		c()
	}
	p.wg.Wait()
}

// clock hands out synthetic event times: one event every step from t0.
func clock(t0 time.Time, step time.Duration) func() time.Time {
	var mu sync.Mutex
	n := 0
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		n++
		return t0.Add(time.Duration(n) * step)
	}
}

func (p *pipeline) query(q string, args ...any) [][]any {
	rows, err := p.conn.Query(context.Background(), q, args...)
	testenv.Must(p.t, err, q)
	defer rows.Close()
	var out [][]any
	for rows.Next() {
		var start time.Time
		var v float64
		var n uint64
		var d uint8
		testenv.Must(p.t, rows.Scan(&start, &v, &n, &d), "scan")
		out = append(out, []any{start, v, n, d})
	}
	return out
}

// A toxicity incident in the middle of the stream shows up in the
// toxicity rate of exactly the windows it covered.
func TestToxicityIncidentWindows(t *testing.T) {
	p := newPipeline(t)
	t0 := time.Now().Add(-time.Hour).Truncate(winSize)
	// 6,000 events 10 ms apart: 6 windows of 10 s; the incident covers
	// 40%..70% of the run, i.e. windows 2 (from 4 s on), 3 and 4 (to 2 s).
	// Produced at 1,000 events/s, event time runs 10x faster than the wall
	// clock: the disorder between partitions stays within the lateness, as
	// it does for live traffic.
	_, err := loadgen.Run(context.Background(), loadgen.Config{Brokers: p.b.Addrs(), Count: 6000, Seed: 3, Rate: 1000,
		Scenario: "toxicity-incident", Now: clock(t0, 10*time.Millisecond)})
	testenv.Must(t, err, "loadgen")
	last := t0.Add(50 * time.Second)
	testenv.Eventually(t, 90*time.Second, "the last window's signals", func() (bool, string) {
		var n uint64
		testenv.Must(t, p.conn.QueryRow(context.Background(), `SELECT count() FROM llm_signals FINAL
			WHERE app = 'support-bot' AND signal = 'events' AND window_seconds = 10 AND window_start = ?`, last).Scan(&n), "count")
		return n > 0, fmt.Sprint(n)
	})
	var total float64
	testenv.Must(t, p.conn.QueryRow(context.Background(), `SELECT sum(value) FROM llm_signals FINAL
		WHERE signal = 'events' AND window_seconds = 10`).Scan(&total), "total")
	if total != 6000 {
		t.Errorf("windows hold %v events, want all 6000 (none late)", total)
	}
	rows := p.query(`SELECT window_start, sum(value * n) / sum(n), sum(n), max(0) FROM llm_signals FINAL
		WHERE app = 'support-bot' AND signal = 'toxicity' AND metric = 'rate' AND window_seconds = 10
		GROUP BY window_start ORDER BY window_start`)
	for i, r := range rows {
		t.Logf("window %d %v: toxicity rate %.3f over %d events", i, r[0].(time.Time).Format("15:04:05"), r[1], r[2])
	}
	// Windows from t0-10s (calls that started before t0): the incident
	// covers t0+24s..t0+42s, so window 4 (t0+30s) entirely (half the
	// completions toxic), windows 3 and 5 in part, none of 1, 2 and 6.
	rate := func(i int) float64 { return rows[i][1].(float64) }
	if len(rows) != 7 || rate(4) < 0.35 || rate(1) > 0.03 || rate(2) > 0.03 || rate(6) > 0.03 || rate(3) < 0.15 || rate(5) < 0.02 {
		t.Fatalf("incident not where it was injected: %v", rows)
	}
}
