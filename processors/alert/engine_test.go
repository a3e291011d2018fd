package alert

import (
	"context"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sightline-dev/sightline/internal/testenv"
	"github.com/sightline-dev/sightline/processors/window"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
	"github.com/sightline-dev/sightline/sinks/notify"
)

const t0 = int64(1_760_000_000) // a window start (UTC, minute aligned)

var (
	keyA  = window.Key{Tenant: "acme-eu", App: "support", Model: "gpt-x", Variant: "control"}
	keyA2 = window.Key{Tenant: "acme-eu", App: "support", Model: "gpt-y", Variant: "control"} // keyA's group (tenant and app)
)

func sig(key window.Key, start int64, name, metric string, value float64, n uint64) chsink.SignalRow {
	return chsink.SignalRow{Key: key, WindowStart: start, WindowSeconds: 60,
		Signal: window.Signal{Name: name, Metric: metric, Value: value, N: n, Lo: math.NaN(), Hi: math.NaN()}}
}

func decision(key window.Key, start int64, name, metric string, d bool) chsink.SignalRow {
	r := sig(key, start, name, metric, 0, 500)
	if d {
		r.Signal.Value = 1
	}
	r.Signal.Decision = d
	p, th := 0.2, 0.01
	if d {
		p = 0.001
	}
	r.Signal.PValue, r.Signal.Threshold = &p, &th
	return r
}

func corrected(r chsink.SignalRow) chsink.SignalRow { r.Corrected = true; return r }

func f(v float64) *float64 { return &v }
func i(v int) *int         { return &v }

// newTestEngine builds an engine whose notifications are observed
// synchronously (the returned func drains what was queued so far).
func newTestEngine(t *testing.T, conn driver.Conn, cfg Config) (*Engine, func() []string) {
	t.Helper()
	e, err := New(cfg, conn, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close(context.Background()) })
	var mu sync.Mutex
	var got []string
	e.observe = func(n notify.Notification) {
		mu.Lock()
		defer mu.Unlock()
		s := n.State
		if n.Repeat {
			s = "repeat"
		}
		got = append(got, s)
	}
	return e, func() []string {
		mu.Lock()
		defer mu.Unlock()
		out := got
		got = nil
		return out
	}
}

func (e *Engine) stateOf(rule string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var states []string
	for _, s := range e.series {
		if s.rule.Name == rule {
			states = append(states, s.scope.Tenant+":"+s.state)
		}
	}
	return strings.Join(states, ",")
}

func TestStateMachine(t *testing.T) {
	conn, _ := testenv.Database(t)
	toxic := func(name string, mod func(*Rule)) Rule {
		r := Rule{Name: name, Signal: "toxicity/rate", Operator: ">", Threshold: f(0.1), MinSamples: 10}
		if mod != nil {
			mod(&r)
		}
		return r
	}
	keyB := window.Key{Tenant: "globex", App: "support", Model: "gpt-x", Variant: "control"}
	type step struct {
		rows    []chsink.SignalRow
		advance time.Duration // clock moves before the step
		want    string        // notifications queued by this step
		state   string        // series states after it (tenant:state)
	}
	cases := []struct {
		name  string
		rule  Rule
		steps []step
	}{
		{"for=1 fires at once, resolves once", toxic("t1", nil), []step{
			{rows: []chsink.SignalRow{sig(keyA, t0, "toxicity", "rate", 0.3, 100)}, want: "firing", state: "acme-eu:firing"},
			{rows: []chsink.SignalRow{sig(keyA, t0+60, "toxicity", "rate", 0.4, 100)}, want: "", state: "acme-eu:firing"},
			{rows: []chsink.SignalRow{sig(keyA, t0+120, "toxicity", "rate", 0.01, 100)}, want: "resolved", state: "acme-eu:inactive"},
			{rows: []chsink.SignalRow{sig(keyA, t0+180, "toxicity", "rate", 0.01, 100)}, want: "", state: "acme-eu:inactive"},
		}},
		{"for=3 needs three consecutive windows", toxic("t2", func(r *Rule) { r.For = i(3) }), []step{
			{rows: []chsink.SignalRow{sig(keyA, t0, "toxicity", "rate", 0.3, 100)}, state: "acme-eu:pending"},
			{rows: []chsink.SignalRow{sig(keyA, t0+60, "toxicity", "rate", 0.01, 100)}, state: "acme-eu:inactive"},
			{rows: []chsink.SignalRow{sig(keyA, t0+120, "toxicity", "rate", 0.3, 100)}, state: "acme-eu:pending"},
			{rows: []chsink.SignalRow{sig(keyA, t0+180, "toxicity", "rate", 0.3, 100)}, state: "acme-eu:pending"},
			{rows: []chsink.SignalRow{sig(keyA, t0+240, "toxicity", "rate", 0.3, 100)}, want: "firing", state: "acme-eu:firing"},
		}},
		{"min_samples: small windows are no data", toxic("t3", nil), []step{
			{rows: []chsink.SignalRow{sig(keyA, t0, "toxicity", "rate", 0.9, 3)}, state: "acme-eu:inactive"},
			{rows: []chsink.SignalRow{sig(keyA, t0+60, "toxicity", "rate", 0.9, 10)}, want: "firing", state: "acme-eu:firing"},
			{rows: []chsink.SignalRow{sig(keyA, t0+120, "toxicity", "rate", 0.0, 3)}, state: "acme-eu:firing"},
		}},
		{"wildcard scope", toxic("t4", func(r *Rule) { r.Match.Tenant = "acme-*"; r.Match.App = "supp?rt" }), []step{
			{rows: []chsink.SignalRow{sig(keyA, t0, "toxicity", "rate", 0.3, 100), sig(keyB, t0, "toxicity", "rate", 0.3, 100),
				sig(keyA, t0, "refusal", "rate", 0.9, 100)}, want: "firing", state: "acme-eu:firing"},
		}},
		{"drifted uses the row's decision", Rule{Name: "d1", Signal: "latency_ms/drift", Condition: CondDrifted}, []step{
			{rows: []chsink.SignalRow{decision(keyA, t0, "latency_ms", "drift", false)}, state: "acme-eu:inactive"},
			{rows: []chsink.SignalRow{decision(keyA, t0+60, "latency_ms", "drift", true), decision(keyA, t0+60, "latency_ms", "drift_ks", true)},
				want: "firing", state: "acme-eu:firing"},
			{rows: []chsink.SignalRow{decision(keyA, t0+120, "latency_ms", "drift", false)}, want: "resolved", state: "acme-eu:inactive"},
		}},
		{"significant with a wildcard signal name", Rule{Name: "s1", Signal: "*/bias", Condition: CondSignificant}, []step{
			{rows: []chsink.SignalRow{decision(keyA, t0, "toxicity", "bias", true)}, want: "firing", state: "acme-eu:firing"},
		}},
		{"no_data ok resolves when the series disappears", toxic("n1", func(r *Rule) { r.NoData = NoDataOK }), []step{
			{rows: []chsink.SignalRow{sig(keyA, t0, "toxicity", "rate", 0.3, 100)}, want: "firing", state: "acme-eu:firing"},
			{rows: []chsink.SignalRow{sig(keyB, t0+60, "toxicity", "rate", 0.0, 100)}, want: "resolved", state: "acme-eu:inactive,globex:inactive"},
		}},
		{"no_data keep holds the state", toxic("n2", nil), []step{
			{rows: []chsink.SignalRow{sig(keyA, t0, "toxicity", "rate", 0.3, 100)}, want: "firing", state: "acme-eu:firing"},
			{rows: []chsink.SignalRow{sig(keyB, t0+60, "toxicity", "rate", 0.0, 100)}, state: "acme-eu:firing,globex:inactive"},
			{rows: []chsink.SignalRow{sig(keyA, t0+120, "toxicity", "rate", math.NaN(), 100)}, state: "acme-eu:firing,globex:inactive"},
		}},
		{"no_data alerting fires on silence", toxic("n3", func(r *Rule) { r.NoData = NoDataAlerting; r.For = i(2) }), []step{
			{rows: []chsink.SignalRow{sig(keyA, t0, "toxicity", "rate", 0.0, 100)}, state: "acme-eu:inactive"},
			{rows: []chsink.SignalRow{sig(keyB, t0+60, "toxicity", "rate", 0.0, 100)}, state: "acme-eu:pending,globex:inactive"},
			{rows: []chsink.SignalRow{sig(keyB, t0+120, "toxicity", "rate", 0.0, 100)}, want: "firing", state: "acme-eu:firing,globex:inactive"},
		}},
		{"re-notify interval", toxic("r1", func(r *Rule) { r.Renotify = 10 * time.Minute }), []step{
			{rows: []chsink.SignalRow{sig(keyA, t0, "toxicity", "rate", 0.3, 100)}, want: "firing"},
			{rows: []chsink.SignalRow{sig(keyA, t0+60, "toxicity", "rate", 0.3, 100)}, advance: 5 * time.Minute},
			{rows: []chsink.SignalRow{sig(keyA, t0+120, "toxicity", "rate", 0.3, 100)}, advance: 5 * time.Minute, want: "repeat"},
			{rows: []chsink.SignalRow{sig(keyA, t0+180, "toxicity", "rate", 0.3, 100)}, advance: time.Minute},
			{rows: []chsink.SignalRow{sig(keyA, t0+240, "toxicity", "rate", 0.0, 100)}, want: "resolved"},
		}},
		{"a corrected window that crosses the threshold fires then, and resolves on the next clear window", toxic("c1", nil), []step{
			{rows: []chsink.SignalRow{sig(keyA, t0, "toxicity", "rate", 0.05, 100)}, state: "acme-eu:inactive"},
			{rows: []chsink.SignalRow{sig(keyA, t0+60, "toxicity", "rate", 0.05, 100)}, state: "acme-eu:inactive"},
			{rows: []chsink.SignalRow{corrected(sig(keyA, t0, "toxicity", "rate", 0.3, 200))}, want: "firing", state: "acme-eu:firing"},
			{rows: []chsink.SignalRow{corrected(sig(keyA, t0, "toxicity", "rate", 0.35, 210))}, state: "acme-eu:firing"},
			{rows: []chsink.SignalRow{sig(keyA, t0+120, "toxicity", "rate", 0.01, 100)}, want: "resolved", state: "acme-eu:inactive"},
		}},
		{"a correction completes a run of for windows", toxic("c2", func(r *Rule) { r.For = i(2) }), []step{
			{rows: []chsink.SignalRow{sig(keyA, t0, "toxicity", "rate", 0.05, 100)}, state: "acme-eu:inactive"},
			{rows: []chsink.SignalRow{sig(keyA, t0+60, "toxicity", "rate", 0.3, 100)}, state: "acme-eu:pending"},
			{rows: []chsink.SignalRow{corrected(sig(keyA, t0, "toxicity", "rate", 0.2, 150))}, want: "firing", state: "acme-eu:firing"},
		}},
		{"a correction below the threshold breaks the pending run", toxic("c3", func(r *Rule) { r.For = i(3) }), []step{
			{rows: []chsink.SignalRow{sig(keyA, t0, "toxicity", "rate", 0.3, 100)}, state: "acme-eu:pending"},
			{rows: []chsink.SignalRow{sig(keyA, t0+60, "toxicity", "rate", 0.3, 100)}, state: "acme-eu:pending"},
			{rows: []chsink.SignalRow{corrected(sig(keyA, t0+60, "toxicity", "rate", 0.02, 300))}, state: "acme-eu:inactive"},
			{rows: []chsink.SignalRow{sig(keyA, t0+120, "toxicity", "rate", 0.3, 100)}, state: "acme-eu:pending"},
			{rows: []chsink.SignalRow{sig(keyA, t0+180, "toxicity", "rate", 0.3, 100)}, state: "acme-eu:pending"},
			{rows: []chsink.SignalRow{sig(keyA, t0+240, "toxicity", "rate", 0.3, 100)}, want: "firing", state: "acme-eu:firing"},
		}},
		{"a replay of a written window (not a correction) is ignored even above the threshold", toxic("c4", nil), []step{
			{rows: []chsink.SignalRow{sig(keyA, t0, "toxicity", "rate", 0.05, 100)}, state: "acme-eu:inactive"},
			{rows: []chsink.SignalRow{sig(keyA, t0, "toxicity", "rate", 0.3, 100)}, state: "acme-eu:inactive"},
		}},
		{"a corrected window of a second series joins the firing incident without a notification", toxic("c5", nil), []step{
			{rows: []chsink.SignalRow{sig(keyA, t0, "toxicity", "rate", 0.3, 100), sig(keyA2, t0, "toxicity", "rate", 0.05, 100)},
				want: "firing", state: "acme-eu:firing,acme-eu:inactive"},
			{rows: []chsink.SignalRow{corrected(sig(keyA2, t0, "toxicity", "rate", 0.3, 200))}, state: "acme-eu:firing,acme-eu:firing"},
			{rows: []chsink.SignalRow{sig(keyA, t0+60, "toxicity", "rate", 0.0, 100), sig(keyA2, t0+60, "toxicity", "rate", 0.3, 100)},
				state: "acme-eu:firing,acme-eu:inactive"},
			{rows: []chsink.SignalRow{sig(keyA, t0+120, "toxicity", "rate", 0.0, 100), sig(keyA2, t0+120, "toxicity", "rate", 0.0, 100)},
				want: "resolved", state: "acme-eu:inactive,acme-eu:inactive"},
		}},
		{"replayed window is ignored", toxic("p1", func(r *Rule) { r.For = i(2) }), []step{
			{rows: []chsink.SignalRow{sig(keyA, t0, "toxicity", "rate", 0.3, 100)}, state: "acme-eu:pending"},
			{rows: []chsink.SignalRow{sig(keyA, t0, "toxicity", "rate", 0.3, 100)}, state: "acme-eu:pending"},
			{rows: []chsink.SignalRow{sig(keyA, t0+60, "toxicity", "rate", 0.3, 100)}, want: "firing", state: "acme-eu:firing"},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, drain := newTestEngine(t, conn, Config{Rules: []Rule{tc.rule}})
			now := time.Unix(t0+3600, 0)
			e.Now = func() time.Time { return now }
			for si, st := range tc.steps {
				now = now.Add(st.advance)
				e.Evaluate(context.Background(), st.rows)
				if got := strings.Join(drain(), ","); got != st.want {
					t.Errorf("step %d: notifications %q, want %q", si, got, st.want)
				}
				if st.state != "" {
					if got := sortedStates(e.stateOf(tc.rule.Name)); got != st.state {
						t.Errorf("step %d: states %q, want %q", si, got, st.state)
					}
				}
			}
		})
	}
}

func sortedStates(s string) string {
	parts := strings.Split(s, ",")
	for i := range parts {
		for j := i + 1; j < len(parts); j++ {
			if parts[j] < parts[i] {
				parts[i], parts[j] = parts[j], parts[i]
			}
		}
	}
	return strings.Join(parts, ",")
}

// TestRestart: a second engine over the same database neither re-fires an
// alert that is firing nor forgets it; it resolves it.
func TestRestart(t *testing.T) {
	conn, _ := testenv.Database(t)
	cfg := Config{Rules: []Rule{{Name: "toxic", Signal: "toxicity/rate", Operator: ">=", Threshold: f(0.2), For: i(2)}}}
	e1, drain1 := newTestEngine(t, conn, cfg)
	e1.Evaluate(context.Background(), []chsink.SignalRow{sig(keyA, t0, "toxicity", "rate", 0.5, 100)})
	e1.Evaluate(context.Background(), []chsink.SignalRow{sig(keyA, t0+60, "toxicity", "rate", 0.5, 100)})
	if got := strings.Join(drain1(), ","); got != "firing" {
		t.Fatalf("first engine: %q", got)
	}
	// A pending series survives too.
	keyC := window.Key{Tenant: "initech", App: "a", Model: "m", Variant: "v"}
	e1.Evaluate(context.Background(), []chsink.SignalRow{sig(keyA, t0+120, "toxicity", "rate", 0.5, 100), sig(keyC, t0+120, "toxicity", "rate", 0.5, 100)})
	testenv.Must(t, e1.Close(context.Background()), "close")

	e2, drain2 := newTestEngine(t, conn, cfg)
	if got := sortedStates(e2.stateOf("toxic")); got != "acme-eu:firing,initech:pending" {
		t.Fatalf("loaded states %q", got)
	}
	// The aggregate stage may replay the last window after a restart.
	e2.Evaluate(context.Background(), []chsink.SignalRow{sig(keyA, t0+120, "toxicity", "rate", 0.5, 100), sig(keyC, t0+120, "toxicity", "rate", 0.5, 100)})
	e2.Evaluate(context.Background(), []chsink.SignalRow{sig(keyA, t0+180, "toxicity", "rate", 0.6, 100), sig(keyC, t0+180, "toxicity", "rate", 0.5, 100)})
	if got := strings.Join(drain2(), ","); got != "firing" { // keyC's, not keyA's again
		t.Fatalf("after restart: %q, want only initech's firing", got)
	}
	e2.Evaluate(context.Background(), []chsink.SignalRow{sig(keyA, t0+240, "toxicity", "rate", 0.0, 100), sig(keyC, t0+240, "toxicity", "rate", 0.5, 100)})
	if got := strings.Join(drain2(), ","); got != "resolved" {
		t.Fatalf("resolve after restart: %q", got)
	}
	var states []string
	rows, err := conn.Query(context.Background(), `SELECT state FROM llm_alerts WHERE kind = 'state' AND tenant = 'acme-eu' ORDER BY seq`)
	testenv.Must(t, err, "query")
	for rows.Next() {
		var s string
		testenv.Must(t, rows.Scan(&s), "scan")
		states = append(states, s)
	}
	rows.Close()
	if got := strings.Join(states, ","); got != "pending,firing,resolved" {
		t.Fatalf("llm_alerts history of acme-eu: %s", got)
	}
}

func TestFingerprintStable(t *testing.T) {
	s := notify.Scope{Tenant: "a", App: "b", Model: "c", Variant: "d"}
	sg := notify.SignalRef{Name: "toxicity", Metric: "rate"}
	a, b := Fingerprint("r", s, sg, 60), Fingerprint("r", s, sg, 60)
	if a != b || len(a) != 32 {
		t.Fatalf("%s %s", a, b)
	}
	// Fields are separated: moving a character between fields changes it.
	if Fingerprint("r", notify.Scope{Tenant: "ab", Model: "c", Variant: "d"}, sg, 60) == a || Fingerprint("r", s, sg, 3600) == a {
		t.Fatal("fingerprint collision")
	}
}
