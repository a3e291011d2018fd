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
	"github.com/sightline-dev/sightline/processors/detectors/registry"
	"github.com/sightline-dev/sightline/processors/score"
	"github.com/sightline-dev/sightline/processors/window"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
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
	rollup time.Duration
}

func newPipeline(t *testing.T) *pipeline { return newPipelineRollup(t, -1) }

func newPipelineRollup(t *testing.T, rollup time.Duration) *pipeline {
	p := &pipeline{t: t, b: testenv.Broker(t, ""), rollup: rollup}
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

func (p *pipeline) startAggregate() context.CancelFunc { return p.startAggregateWith("", "") }

func (p *pipeline) startAggregateWith(baseline, group string) context.CancelFunc {
	ag, err := aggregate.New(aggregate.Config{Brokers: p.b.Addrs(), Window: winSize, Rollup: p.rollup, Lateness: 2 * winSize, Baseline: baseline, Group: group,
		IdleClose: 2 * time.Second, BaselineWindows: 3, SessionTimeout: 30 * time.Second, WindowConfig: window.DefaultConfig()},
		p.conn, prometheus.NewRegistry())
	testenv.Must(p.t, err, "aggregate stage")
	return p.run(ag.Run)
}

func (p *pipeline) run(fn func(context.Context) error) context.CancelFunc {
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = append(p.cancel, cancel)
	done := make(chan struct{})
	p.wg.Add(1)
	go func() { defer p.wg.Done(); defer close(done); fn(ctx) }()
	return func() { cancel(); <-done }
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
		WHERE signal = 'events' AND grp = '' AND window_seconds = 10`).Scan(&total), "total")
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

func (p *pipeline) waitWindow(app string, secs int, start time.Time) {
	p.t.Helper()
	testenv.Eventually(p.t, 120*time.Second, "signals of window "+start.Format("15:04:05"), func() (bool, string) {
		var n uint64
		testenv.Must(p.t, p.conn.QueryRow(context.Background(), `SELECT count() FROM llm_signals FINAL
			WHERE app = ? AND signal = 'events' AND window_seconds = ? AND window_start = ?`, app, uint32(secs), start).Scan(&n), "count")
		return n > 0, fmt.Sprint(n)
	})
}

// waitSettled waits until, for every key and window of secs in [from, to),
// the signals counted exactly the events stored, and want events are
// stored in all: the operator's check that no partial was lost or counted
// twice (windows written early are corrected when late partials arrive).
func (p *pipeline) waitSettled(secs uint32, from, to time.Time, want uint64) {
	p.t.Helper()
	testenv.Eventually(p.t, 120*time.Second, "signals equal to events per key and window", func() (bool, string) {
		counts, err := chsink.ReconcileWindows(context.Background(), p.conn, secs, from, to)
		testenv.Must(p.t, err, "reconcile")
		var events, bad uint64
		for _, c := range counts {
			events += c.Events
			if c.Signals != c.Events {
				bad++
			}
		}
		return events == want && bad == 0, fmt.Sprintf("%d events of %d, %d of %d key-windows differ", events, want, bad, len(counts))
	})
}

func (p *pipeline) decisions(q string, args ...any) (yes, all uint64) {
	p.t.Helper()
	testenv.Must(p.t, p.conn.QueryRow(context.Background(), "SELECT toUInt64(sum(decision)), count() FROM llm_signals FINAL WHERE "+q, args...).Scan(&yes, &all), q)
	return yes, all
}

func runScenario(t *testing.T, p *pipeline, scenario string, count int, t0 time.Time) {
	t.Helper()
	step := 6 * winSize / time.Duration(count) // six windows of event time
	_, err := loadgen.Run(context.Background(), loadgen.Config{Brokers: p.b.Addrs(), Count: count, Seed: 11,
		Rate: float64(count) / 6, Scenario: scenario, Now: clock(t0, step)})
	testenv.Must(t, err, "loadgen")
}

// Drift: from half-way on search-rag's latency and prompts shift; the
// first shifted windows are flagged against the rolling baseline of the
// unshifted ones.
func TestDriftScenario(t *testing.T) {
	p := newPipeline(t)
	t0 := time.Now().Add(-2 * time.Hour).Truncate(winSize)
	runScenario(t, p, "drift", 12000, t0)
	p.waitWindow("search-rag", 10, t0.Add(50*time.Second))
	shiftedYes, shiftedAll := p.decisions(`app = 'search-rag' AND signal = 'latency_ms' AND metric = 'drift' AND window_seconds = 10 AND window_start IN (?, ?)`,
		t0.Add(30*time.Second), t0.Add(40*time.Second))
	textYes, _ := p.decisions(`app = 'search-rag' AND signal = 'prompt_text' AND metric = 'drift' AND window_seconds = 10 AND window_start IN (?, ?)`,
		t0.Add(30*time.Second), t0.Add(40*time.Second))
	steadyYes, steadyAll := p.decisions(`app = 'code-assistant' AND metric = 'drift' AND window_seconds = 10`)
	t.Logf("search-rag latency drift flagged in %d of %d shifted key-windows; prompt text drift in %d; steady code-assistant: %d of %d drift rows flagged",
		shiftedYes, shiftedAll, textYes, steadyYes, steadyAll)
	if shiftedAll == 0 || shiftedYes*2 < shiftedAll {
		t.Fatalf("latency drift flagged in %d of %d shifted key-windows", shiftedYes, shiftedAll)
	}
	if textYes == 0 {
		t.Fatal("prompt text drift not flagged")
	}
	if steadyAll > 0 && steadyYes*10 > steadyAll {
		t.Fatalf("steady app flagged in %d of %d drift rows", steadyYes, steadyAll)
	}
}

// Bias: hi-IN users get refusals 25% of the time, others 3%; the one-minute
// rollup has enough events per group to find it.
func TestBiasScenario(t *testing.T) {
	p := newPipelineRollup(t, time.Minute)
	t0 := time.Now().Add(-3 * time.Hour).Truncate(time.Minute)
	runScenario(t, p, "bias", 12000, t0)
	p.waitWindow("support-bot", 60, t0)
	yes, all := p.decisions(`signal = 'refusal' AND metric = 'bias' AND grp = 'user.locale' AND window_seconds = 60 AND window_start = ?`, t0)
	tierYes, tierAll := p.decisions(`signal = 'refusal' AND metric = 'bias' AND grp = 'user.tier' AND window_seconds = 60 AND window_start = ?`, t0)
	t.Logf("refusal disparity by user.locale found in %d of %d keys; by user.tier (no disparity) in %d of %d", yes, all, tierYes, tierAll)
	if all == 0 || yes*2 < all {
		t.Fatalf("locale disparity found in %d of %d keys", yes, all)
	}
	if tierYes > 1 {
		t.Fatalf("false tier findings: %d of %d", tierYes, tierAll)
	}
}

// A/B: support-bot's empathetic-v2 is 1.3x slower than control.
func TestABScenario(t *testing.T) {
	p := newPipeline(t)
	t0 := time.Now().Add(-4 * time.Hour).Truncate(winSize)
	runScenario(t, p, "ab", 12000, t0)
	p.waitWindow("support-bot", 10, t0.Add(50*time.Second))
	yes, all := p.decisions(`app = 'support-bot' AND variant = 'empathetic-v2' AND signal = 'latency_ms' AND metric = 'ab_welch' AND window_seconds = 10`)
	ctl, _ := p.decisions(`app = 'support-bot' AND variant = 'control' AND metric LIKE 'ab_%'`)
	t.Logf("latency difference significant (Welch) in %d of %d treatment key-windows", yes, all)
	if all == 0 || yes*2 < all {
		t.Fatalf("A/B latency difference found in %d of %d key-windows", yes, all)
	}
	if ctl != 0 {
		t.Fatal("the control must not be compared with itself")
	}
}

// Restart: the aggregate stage is stopped mid-stream (open windows lost)
// and restarted; every signal row written twice has the same value, and
// each window's count equals the events stored for it.
func TestRestartGivesSameRows(t *testing.T) {
	p := newPipeline(t)
	stopFirst := p.cancel[len(p.cancel)-1]
	t0 := time.Now().Add(-5 * time.Hour).Truncate(winSize)
	done := make(chan error, 1)
	go func() {
		_, err := loadgen.Run(context.Background(), loadgen.Config{Brokers: p.b.Addrs(), Count: 8000, Seed: 5,
			Rate: 1000, Now: clock(t0, 10*time.Millisecond)})
		done <- err
	}()
	p.waitWindow("support-bot", 10, t0.Add(10*time.Second))
	stopFirst() // open windows and uncommitted progress are lost
	p.startAggregate()
	testenv.Must(t, <-done, "loadgen")
	p.waitWindow("support-bot", 10, t0.Add(70*time.Second))
	var dup uint64
	testenv.Must(t, p.conn.QueryRow(context.Background(), `SELECT count() FROM (
		SELECT tenant, app, model, variant, window_start, window_seconds, signal, metric, grp, uniqExact(value) AS v
		FROM llm_signals GROUP BY tenant, app, model, variant, window_start, window_seconds, signal, metric, grp HAVING v > 1)`).Scan(&dup), "dups")
	var raw, final uint64
	testenv.Must(t, p.conn.QueryRow(context.Background(), `SELECT count() FROM llm_signals`).Scan(&raw), "raw")
	testenv.Must(t, p.conn.QueryRow(context.Background(), `SELECT count() FROM llm_signals FINAL`).Scan(&final), "final")
	var mismatched uint64
	testenv.Must(t, p.conn.QueryRow(context.Background(), `SELECT count() FROM (
		SELECT w.app, w.model, w.variant, w.ws, w.n, e.n AS en FROM
		  (SELECT app, model, variant, window_start AS ws, value AS n FROM llm_signals FINAL WHERE signal = 'events' AND grp = '' AND window_seconds = 10) AS w
		ANY LEFT JOIN
		  (SELECT app, model, variant, toDateTime(intDiv(toUInt32(ts), 10) * 10) AS ws, toFloat64(count()) AS n FROM llm_events FINAL GROUP BY app, model, variant, ws) AS e
		USING (app, model, variant, ws) WHERE w.n != e.n)`).Scan(&mismatched), "mismatch")
	t.Logf("signal rows: %d raw, %d distinct keys, %d keys written with two different values, %d window counts differing from llm_events", raw, final, dup, mismatched)
	if dup != 0 || mismatched != 0 {
		t.Fatalf("restart changed results: %d rows with two values, %d window counts wrong", dup, mismatched)
	}
}

// Pinned baseline: steady traffic is pinned as "calm"; a drifting stream is
// then compared with it, not with its own recent past.
func TestPinnedBaseline(t *testing.T) {
	p := newPipeline(t)
	stopRolling := p.cancel[len(p.cancel)-1]
	t0 := time.Now().Add(-6 * time.Hour).Truncate(winSize)
	runScenario(t, p, "steady", 6000, t0)
	p.waitWindow("search-rag", 10, t0.Add(50*time.Second))
	// Pin the inner windows: the run's last window lacks the long calls that
	// would have ended after the run (event time is the call's start), so
	// its latencies are biased short, and the first is complete only
	// because calls started before t0 fall into the window before it.
	n, err := chsink.PinBaseline(context.Background(), p.conn, "calm", 10, t0, t0.Add(50*time.Second))
	testenv.Must(t, err, "pin")
	if n < 10 {
		t.Fatalf("pinned %d keys", n)
	}
	stopRolling()
	p.startAggregateWith("pinned:calm", "pinned-test")
	t1 := t0.Add(time.Hour)
	runScenario(t, p, "drift", 12000, t1)
	// The second group's watermark starts where the first's reports left
	// it (every partition drained and quiet: the wall clock), so the drift
	// run's partials, hours old in event time, are late: windows are
	// written early and corrected as their partials arrive.
	p.waitSettled(10, t0.Add(-time.Hour), t1.Add(time.Hour), 18000)
	lateYes, lateAll := p.decisions(`app = 'search-rag' AND signal = 'latency_ms' AND metric = 'drift' AND baseline = 'pinned:calm' AND window_start >= ?`, t1.Add(40*time.Second))
	// Only window t1+10s is wholly unshifted: the shift starts with calls
	// ending at t1+30s, and their (earlier) start times put some of them
	// into window t1+20s.
	earlyYes, earlyAll := p.decisions(`app = 'search-rag' AND signal = 'latency_ms' AND metric = 'drift' AND baseline = 'pinned:calm' AND window_start = ?`, t1.Add(10*time.Second))
	t.Logf("pinned %d keys; against it, shifted windows flagged %d of %d, unshifted %d of %d", n, lateYes, lateAll, earlyYes, earlyAll)
	if lateAll == 0 || lateYes < lateAll || earlyAll == 0 || earlyYes > 1 {
		t.Fatalf("pinned baseline: shifted %d/%d, unshifted %d/%d", lateYes, lateAll, earlyYes, earlyAll)
	}
}
