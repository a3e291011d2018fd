package console_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sightline-dev/sightline/internal/app"
	"github.com/sightline-dev/sightline/internal/chlocal"
	"github.com/sightline-dev/sightline/internal/config"
	"github.com/sightline-dev/sightline/internal/loadgen"
	"github.com/sightline-dev/sightline/internal/testenv"
	"github.com/sightline-dev/sightline/sdk"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// system is `sightline up` (in process, as the binary runs it) against
// the test ClickHouse, filled with the four loadgen scenarios, each in its
// own tenant so their effects do not mix:
//
//   - tox: support-bot's toxicity incident, still going when the traffic
//     ends, so the alert toxic-support is firing;
//   - drift: search-rag drifts from half-way on, code-assistant is steady;
//   - bias: hi-IN users are refused 25% of the time, others 3%;
//   - ab: support-bot's empathetic-v2 is 1.3x slower than control.
//
// Event time covers two minutes from t0 (twelve 10 s windows, two 60 s
// rollups), produced about ten times faster than the wall clock.
type system struct {
	base    string // http://host:port of up's HTTP server
	conn    driver.Conn
	t0      time.Time
	brokers []string
	logs    *syncBuffer
}

// syncBuffer collects up's logs, shown when a test fails.
type syncBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b = append(s.b, p...)
	return len(p), nil
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.b)
}

const systemConfig = `data_dir: %s
http_addr: 127.0.0.1:%d
kafka:
  embedded_addr: 127.0.0.1:%d
clickhouse:
  addr: %s
  database: %s
score:
  flush_interval: 200ms
aggregate:
  window: 10s
  lateness: 5s
  idle_close: 2s
  rollup: 60s
  baseline_windows: 3
window:
  bias:
    min_group_size: 40
alerts:
  actions:
    - {name: hook, type: webhook, url: %s/hook, timeout: 2s}
    - {name: reeval, type: job, url: %s/jobs, body_file: %s, timeout: 2s}
  rules:
    - name: toxic-support
      signal: toxicity/rate
      match: {tenant: tox, app: support-bot}
      window: 10s
      operator: ">"
      threshold: 0.15
      for: 1
      min_samples: 20
      severity: critical
      actions: [hook, reeval]
`

func freePort(t *testing.T) int {
	t.Helper()
	p, err := chlocal.FreePort()
	testenv.Must(t, err, "free port")
	return p
}

// repoPath resolves a path relative to the module root.
func repoPath(t *testing.T, rel string) string {
	wd, _ := os.Getwd()
	for d := wd; d != "/"; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(d, rel)
		}
	}
	t.Fatalf("no module root above %s", wd)
	return ""
}

// startSystem runs up until the test ends.
func startSystem(t *testing.T) *system {
	t.Helper()
	conn, opts := testenv.Database(t)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/jobs" {
			w.WriteHeader(http.StatusCreated)
			fmt.Fprint(w, `{"metadata":{"name":"reeval-1"}}`)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(receiver.Close)
	dir := t.TempDir()
	hport := freePort(t)
	cfgPath := filepath.Join(dir, "sightline.yaml")
	testenv.Must(t, os.WriteFile(cfgPath, []byte(fmt.Sprintf(systemConfig, filepath.Join(dir, "data"), hport, freePort(t),
		testenv.ClickHouseAddr(t), opts.Database, receiver.URL, receiver.URL, repoPath(t, "deploy/jobs/reeval-gpu.k8s.json.tmpl"))), 0o600), "config")
	cfg, err := config.Load(cfgPath)
	testenv.Must(t, err, "load config")
	s := &system{base: "http://" + cfg.HTTPAddr, conn: conn, brokers: []string{cfg.Kafka.EmbeddedAddr}, logs: &syncBuffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- app.Up(ctx, cfg, slog.New(slog.NewTextHandler(s.logs, &slog.HandlerOptions{Level: slog.LevelInfo})))
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Errorf("up did not stop within 30s")
		}
		if t.Failed() {
			t.Logf("logs of up:\n%s", s.logs.String())
		}
	})
	testenv.Eventually(t, 90*time.Second, "up to be ready", func() (bool, string) {
		select {
		case err := <-done:
			t.Fatalf("up stopped: %v", err)
		default:
		}
		resp, err := http.Get(s.base + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
	return s
}

// scenarioCall is one tenant's traffic: the scenario and the calls it
// keeps, of one key per app (model and variant; "" keeps every variant),
// so that every window holds enough events for the statistics.
type scenarioCall struct {
	tenant, scenario string
	apps             map[string][2]string // app -> model, variant ("" keeps the call's)
	perStep          int
	phase            func(f float64) float64
	gen              *loadgen.Generator
}

// fill produces the scenarios' traffic and waits until every window (and
// the bias rollup) is written and the alert fires.
func (s *system) fill(t *testing.T) {
	t.Helper()
	s.t0 = time.Now().Add(-20 * time.Minute).Truncate(time.Minute)
	const steps, span = 1200, 120 * time.Second
	same := func(f float64) float64 { return f }
	mix := []*scenarioCall{
		// The incident starts a quarter in and is still going at the end.
		{tenant: "tox", scenario: "toxicity-incident", apps: map[string][2]string{"support-bot": {"gpt-4o-mini", "control"}}, perStep: 1,
			phase: func(f float64) float64 { return 0.3 + 0.39*f }, gen: loadgen.New(21)},
		{tenant: "drift", scenario: "drift", apps: map[string][2]string{"search-rag": {"gpt-4o", "control"},
			"code-assistant": {"gpt-4o-mini", "control"}}, perStep: 4, phase: same, gen: loadgen.New(22)},
		{tenant: "bias", scenario: "bias", apps: map[string][2]string{"support-bot": {"gpt-4o-mini", "control"}}, perStep: 1, phase: same, gen: loadgen.New(23)},
		{tenant: "ab", scenario: "ab", apps: map[string][2]string{"support-bot": {"gpt-4o-mini", ""}}, perStep: 3, phase: same, gen: loadgen.New(24)},
	}
	clients := map[[2]string]*sdk.Client{}
	client := func(tenant, app string) *sdk.Client {
		k := [2]string{tenant, app}
		if c := clients[k]; c != nil {
			return c
		}
		c, err := sdk.NewClient(sdk.App(app), sdk.Tenant(tenant), sdk.Environment("test"), sdk.Brokers(s.brokers...), sdk.QueueSize(20000))
		testenv.Must(t, err, "sdk client")
		clients[k] = c
		return c
	}
	ctx := context.Background()
	start := time.Now()
	sent := 0
	for i := 0; i < steps; i++ {
		now := s.t0.Add(time.Duration(i) * span / steps)
		f := float64(i) / steps
		for _, sc := range mix {
			for n := 0; n < sc.perStep; n++ {
				for {
					app, call := sc.gen.NextIn(now, sc.scenario, sc.phase(f))
					pin, ok := sc.apps[app]
					if !ok || call.Model != pin[0] || (pin[1] != "" && call.Variant != pin[1]) {
						continue // another key: drawn again
					}
					testenv.Must(t, client(sc.tenant, app).RecordWait(ctx, &call), "record")
					sent++
					break
				}
			}
		}
		// About ten times faster than event time: partitions stay
		// within the lateness of each other, as live traffic does.
		if d := time.Until(start.Add(time.Duration(i+1) * span / steps / 10)); d > 0 {
			time.Sleep(d)
		}
	}
	for _, c := range clients {
		cctx, cancel := context.WithTimeout(ctx, time.Minute)
		testenv.Must(t, c.Close(cctx), "flush")
		cancel()
		if st := c.Stats(); st.Failed+st.Dropped > 0 {
			t.Fatalf("sdk lost events: %+v", st)
		}
	}
	t.Logf("produced %d events in %s", sent, time.Since(start).Round(time.Millisecond))
	last := s.t0.Add(span - 10*time.Second)
	for _, w := range []struct {
		tenant, app string
		secs        uint32
		start       time.Time
	}{{"tox", "support-bot", 10, last}, {"drift", "search-rag", 10, last}, {"drift", "code-assistant", 10, last},
		{"ab", "support-bot", 10, last}, {"bias", "support-bot", 60, s.t0.Add(time.Minute)}} {
		testenv.Eventually(t, 120*time.Second, fmt.Sprintf("%s/%s window %s of %ds", w.tenant, w.app, w.start.Format("15:04:05"), w.secs), func() (bool, string) {
			var n uint64
			testenv.Must(t, s.conn.QueryRow(ctx, `SELECT count() FROM llm_signals WHERE tenant = ? AND app = ? AND signal = 'events'
				AND window_seconds = ? AND window_start = ?`, w.tenant, w.app, w.secs, w.start).Scan(&n), "window")
			return n > 0, strconv.FormatUint(n, 10)
		})
	}
	testenv.Eventually(t, 60*time.Second, "the toxicity alert to fire", func() (bool, string) {
		var state string
		err := s.conn.QueryRow(ctx, `SELECT argMax(state, seq) FROM llm_alerts WHERE rule = 'toxic-support' AND kind = 'state'`).Scan(&state)
		return err == nil && state == "firing", state
	})
}
