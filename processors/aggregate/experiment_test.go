package aggregate_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"testing"
	"time"

	"github.com/sightline-dev/sightline/internal/loadgen"
	"github.com/sightline-dev/sightline/internal/testenv"
	"github.com/sightline-dev/sightline/processors/window"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

type expKey struct {
	tenant, model, variant string
	start                  int64
	name                   string
}

type expRow struct {
	value, lo, hi, p float64
	n                uint64
	decision         bool
	looks            int
	started          int64
}

func (r expRow) String() string {
	return fmt.Sprintf("diff %v n %d [%v, %v] p %v decided %v look %d of the experiment from %d",
		r.value, r.n, r.lo, r.hi, r.p, r.decision, r.looks, r.started)
}

func orNaN(v *float64) float64 {
	if v == nil {
		return math.NaN()
	}
	return *v
}

func same(a, b float64) bool { return a == b || (math.IsNaN(a) && math.IsNaN(b)) }

// storedExperiments reads the ab_msprt rows of app's 10 s windows.
func (p *pipeline) storedExperiments(app string) map[expKey]expRow {
	p.t.Helper()
	rows, err := p.conn.Query(context.Background(), `SELECT tenant, model, variant, window_start, signal, value, n, lo, hi, p_value, decision, details
		FROM llm_signals FINAL WHERE app = ? AND metric = 'ab_msprt' AND window_seconds = 10`, app)
	testenv.Must(p.t, err, "ab_msprt rows")
	defer rows.Close()
	out := map[expKey]expRow{}
	for rows.Next() {
		var k expKey
		var r expRow
		var ws time.Time
		var lo, hi, pv *float64
		var d uint8
		var details string
		testenv.Must(p.t, rows.Scan(&k.tenant, &k.model, &k.variant, &ws, &k.name, &r.value, &r.n, &lo, &hi, &pv, &d, &details), "scan")
		var det struct {
			Looks int   `json:"looks"`
			Start int64 `json:"experiment_start"`
		}
		testenv.Must(p.t, json.Unmarshal([]byte(details), &det), "details")
		k.start = ws.Unix()
		r.lo, r.hi, r.p, r.decision, r.looks, r.started = orNaN(lo), orNaN(hi), orNaN(pv), d == 1, det.Looks, det.Start
		out[k] = r
	}
	testenv.Must(p.t, rows.Err(), "ab_msprt rows")
	return out
}

// definedExperiments computes the ab_msprt rows that app's stored 10 s
// windows define: every variant's experiment against control, advanced
// over the windows in order (what an uninterrupted stage writes, whatever
// the order in which the windows closed or were corrected).
func (p *pipeline) definedExperiments(app string) map[expKey]expRow {
	p.t.Helper()
	ctx := context.Background()
	rows, err := p.conn.Query(ctx, `SELECT DISTINCT tenant, model, variant FROM llm_windows FINAL WHERE app = ? AND window_seconds = 10`, app)
	testenv.Must(p.t, err, "keys")
	var keys []window.Key
	for rows.Next() {
		k := window.Key{App: app}
		testenv.Must(p.t, rows.Scan(&k.Tenant, &k.Model, &k.Variant), "scan")
		keys = append(keys, k)
	}
	rows.Close()
	cfg := window.DefaultConfig()
	byStart := func(k window.Key) map[int64]*window.Partial {
		ws, err := chsink.WindowsBetween(ctx, p.conn, k, 10, 0, time.Now().Add(24*time.Hour).Unix())
		testenv.Must(p.t, err, "windows")
		m := map[int64]*window.Partial{}
		for _, w := range ws {
			m[w.WindowStart] = w
		}
		return m
	}
	out := map[expKey]expRow{}
	for _, k := range keys {
		if k.Variant == "control" {
			continue
		}
		ck := k
		ck.Variant = "control"
		ctl, trt := byStart(ck), byStart(k)
		var starts []int64
		for s := range trt {
			starts = append(starts, s)
		}
		sort.Slice(starts, func(i, j int) bool { return starts[i] < starts[j] })
		var e *window.Experiment
		for _, s := range starts {
			c, t := ctl[s].ABStats(), trt[s].ABStats()
			var looked bool
			if e, looked = window.Advance(e, k, "control", s, &c, &t, cfg); !looked {
				continue
			}
			for _, sig := range e.Signals(cfg) {
				out[expKey{k.Tenant, k.Model, k.Variant, s, sig.Name}] = expRow{value: sig.Value, n: sig.N, lo: sig.Lo, hi: sig.Hi,
					p: *sig.PValue, decision: sig.Decision, looks: e.Looks, started: e.Start}
			}
		}
	}
	return out
}

// checkExperiments compares the stored ab_msprt rows of app with the ones
// its stored windows define, and checks each series: always-valid p-values
// that never rise, decisions that persist, looks counted 1, 2, ... from
// one experiment start.
func (p *pipeline) checkExperiments(app string) map[expKey]expRow {
	p.t.Helper()
	got, want := p.storedExperiments(app), p.definedExperiments(app)
	bad := 0
	for k, w := range want {
		g, ok := got[k]
		if !ok || !same(g.value, w.value) || g.n != w.n || !same(g.lo, w.lo) || !same(g.hi, w.hi) || !same(g.p, w.p) ||
			g.decision != w.decision || g.looks != w.looks || g.started != w.started {
			if bad < 5 {
				p.t.Errorf("%+v: stored %v (present %v), defined by the windows %v", k, g, ok, w)
			}
			bad++
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			p.t.Errorf("%+v: stored, but no look of the windows", k)
			bad++
		}
	}
	type series struct{ tenant, model, variant, name string }
	bySeries := map[series][]expKey{}
	for k := range got {
		s := series{k.tenant, k.model, k.variant, k.name}
		bySeries[s] = append(bySeries[s], k)
	}
	for s, ks := range bySeries {
		sort.Slice(ks, func(i, j int) bool { return ks[i].start < ks[j].start })
		prev := expRow{p: 1}
		for i, k := range ks {
			r := got[k]
			if i > 0 && (r.p > prev.p || (prev.decision && !r.decision) || r.started != prev.started || r.looks <= prev.looks) {
				p.t.Errorf("%+v at %d: %v after %v", s, k.start, r, prev)
				bad++
			}
			prev = r
		}
	}
	p.t.Logf("%s: %d ab_msprt rows stored, %d defined by the stored windows, %d series, %d differences", app, len(got), len(want), len(bySeries), bad)
	if len(want) == 0 {
		p.t.Fatalf("%s: no experiment rows", app)
	}
	return got
}

// The ab scenario over six windows: support-bot's empathetic-v2 is 1.3x
// slower and refuses more. Its experiment accumulates across the windows:
// the always-valid p-value falls (running minimum), the decision once made
// persists, and every row is what the stored windows define.
func TestABExperimentAcrossWindows(t *testing.T) {
	p := newPipeline(t)
	t0 := time.Now().Add(-7 * time.Hour).Truncate(winSize)
	runScenario(t, p, "ab", 12000, t0)
	p.waitSettled(10, t0.Add(-time.Hour), t0.Add(time.Hour), 12000)
	rows := p.checkExperiments("support-bot")
	decided := map[string]int{}
	firstAt := map[string]int64{}
	for k, r := range rows {
		if k.variant == "empathetic-v2" && r.decision {
			decided[k.name]++
			if at, ok := firstAt[k.model+"/"+k.name]; !ok || k.start < at {
				firstAt[k.model+"/"+k.name] = k.start
			}
		}
	}
	t.Logf("empathetic-v2 decided rows per metric: %v; first decided (model/metric -> seconds after t0): %v", decided, func() map[string]int64 {
		m := map[string]int64{}
		for k, v := range firstAt {
			m[k] = v - t0.Unix()
		}
		return m
	}())
	for _, name := range []string{"latency_ms", "refusal"} {
		if decided[name] == 0 {
			t.Errorf("empathetic-v2's %s difference never decided", name)
		}
	}
	ragRows := p.checkExperiments("search-rag")
	falseYes := 0
	for _, r := range ragRows {
		if r.decision {
			falseYes++
		}
	}
	t.Logf("search-rag's rerank-v3 (no effect): %d of %d ab_msprt rows decided", falseYes, len(ragRows))
}

// A restart of the aggregate stage mid-experiment continues each
// experiment from its stored state (one start, looks counted on), and
// late partials that correct windows replay the looks after them: both
// give the rows the stored windows define.
func TestABExperimentRestartAndCorrection(t *testing.T) {
	p := newPipeline(t)
	stopFirst := p.cancel[len(p.cancel)-1]
	t0 := time.Now().Add(-time.Hour).Truncate(winSize)
	done := make(chan error, 1)
	go func() {
		_, err := loadgen.Run(context.Background(), loadgen.Config{Brokers: p.b.Addrs(), Count: 8000, Seed: 31, Rate: 1000,
			Scenario: "ab", Now: clock(t0, 10*time.Millisecond)})
		done <- err
	}()
	p.waitWindow("support-bot", 10, t0.Add(20*time.Second))
	stopFirst() // open windows and uncommitted progress are lost
	p.startAggregate()
	testenv.Must(t, <-done, "loadgen")
	p.waitSettled(10, t0.Add(-time.Hour), t0.Add(time.Hour), 8000)
	before := p.checkExperiments("support-bot")
	starts := map[string]int64{}
	for k, r := range before {
		starts[k.model+"/"+k.variant] = r.started
	}
	if t.Failed() {
		t.FailNow()
	}

	// The same windows again, all late: every window of the run is
	// corrected, and each experiment's later looks are replayed.
	_, err := loadgen.Run(context.Background(), loadgen.Config{Brokers: p.b.Addrs(), Count: 8000, Seed: 32, Rate: 4000,
		Scenario: "ab", Now: clock(t0, 10*time.Millisecond)})
	testenv.Must(t, err, "loadgen")
	p.waitSettled(10, t0.Add(-time.Hour), t0.Add(time.Hour), 16000)
	testenv.Eventually(t, 60*time.Second, "experiments replayed over the corrected windows", func() (bool, string) {
		got, want := p.storedExperiments("support-bot"), p.definedExperiments("support-bot")
		diff := 0
		for k, w := range want {
			if g, ok := got[k]; !ok || g.n != w.n || !same(g.p, w.p) {
				diff++
			}
		}
		return diff == 0, fmt.Sprintf("%d of %d rows differ", diff, len(want))
	})
	after := p.checkExperiments("support-bot")
	grown, all := 0, 0
	for k, r := range after {
		if s, ok := starts[k.model+"/"+k.variant]; ok && r.started > s {
			t.Errorf("%+v: the correction restarted the experiment (%d, was %d)", k, r.started, s)
		}
		if b, ok := before[k]; ok {
			all++
			if r.n > b.n {
				grown++
			}
		}
	}
	// Every window got late events, so every look's cumulative count grew:
	// the looks after each corrected window were replayed.
	t.Logf("looks whose cumulative count grew with the corrections: %d of %d", grown, all)
	if all == 0 || grown < all*9/10 {
		t.Errorf("only %d of %d looks took in the late events", grown, all)
	}
}
