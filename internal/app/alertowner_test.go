package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sightline-dev/sightline/internal/app"
	"github.com/sightline-dev/sightline/internal/chlocal"
	"github.com/sightline-dev/sightline/internal/config"
	"github.com/sightline-dev/sightline/internal/loadgen"
	"github.com/sightline-dev/sightline/internal/testenv"
	"github.com/sightline-dev/sightline/schemas/kafkaconf/kafkatest"
)

// Two `sightline aggregate` members in one consumer group judge the demo's
// toxicity incident, grouped by the default [tenant, app], so the incident
// spans the app's models and variants (partials are partitioned by tenant
// and app, so they are all on one member at a time); once it fired, the
// members hand the keys over twice (A leaves, A2 joins, B leaves: every
// key ends on A2 whichever member held it). The member that takes a key
// over reloads the alert state from llm_alerts instead of announcing its
// incident again: per series the webhook gets one firing notification,
// then its resolution.
func TestAlertsNotifiedOnceAcrossAggregateMembers(t *testing.T) {
	b := kafkatest.Start(t, kafkatest.Options{Partitions: 4})
	_, ch := testenv.Database(t)

	type note struct {
		AlertID string `json:"alert_id"`
		State   string `json:"state"`
		Repeat  bool   `json:"repeat"`
		Scope   struct {
			App     string `json:"app"`
			Model   string `json:"model"`
			Variant string `json:"variant"`
		} `json:"scope"`
	}
	var mu sync.Mutex
	var notes []note
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n note
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &n); err != nil {
			t.Errorf("webhook body: %v: %s", err, body)
		}
		mu.Lock()
		notes = append(notes, n)
		mu.Unlock()
	}))
	defer hook.Close()
	seen := func() []note {
		mu.Lock()
		defer mu.Unlock()
		return append([]note(nil), notes...)
	}

	dir := t.TempDir()
	cfgText := fmt.Sprintf(`data_dir: %s
kafka:
  brokers: [%s]
clickhouse:
  addr: %s
  database: %s
score:
  flush_interval: 200ms
aggregate:
  window: 2s
  lateness: 1s
  idle_close: 1s
  rollup: -1s
  baseline_windows: 3
alerts:
  actions:
    - name: hook
      type: webhook
      url: %s/hooks
      timeout: 2s
  rules:
    - name: toxic-support-bot
      signal: toxicity/rate
      match: {app: support-bot}
      operator: ">"
      threshold: 0.15
      for: 1
      min_samples: 20
      severity: critical
      actions: [hook]
`, filepath.Join(dir, "data"), strings.Join(b.Addrs, ", "), ch.Addrs[0], ch.Database, hook.URL)
	path := filepath.Join(dir, "sightline.yaml")
	testenv.Must(t, os.WriteFile(path, []byte(cfgText), 0o600), "write config")
	base, err := config.Load(path)
	testenv.Must(t, err, "load config")

	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	type member struct {
		name   string
		http   string
		cancel context.CancelFunc
		done   chan error
	}
	run := func(name string, stage func(context.Context, config.Config, *slog.Logger) error) *member {
		p, err := chlocal.FreePort()
		testenv.Must(t, err, "free port")
		cfg := base
		cfg.HTTPAddr = fmt.Sprintf("127.0.0.1:%d", p)
		ctx, cancel := context.WithCancel(context.Background())
		m := &member{name: name, http: cfg.HTTPAddr, cancel: cancel, done: make(chan error, 1)}
		go func() { m.done <- stage(ctx, cfg, log.With("member", name)) }()
		return m
	}
	stop := func(m *member) {
		m.cancel()
		select {
		case err := <-m.done:
			if err != nil {
				t.Errorf("%s: %v", m.name, err)
			}
		case <-time.After(60 * time.Second):
			t.Fatalf("%s did not stop", m.name)
		}
	}
	defer func() {
		if t.Failed() {
			t.Logf("log:\n%s", logs.String())
		}
	}()
	score := run("score", app.Score)
	defer stop(score)
	a := run("aggregate-a", app.Aggregate)
	bm := run("aggregate-b", app.Aggregate)

	// The incident is 40% to 70% of a 40 s run.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	lg := make(chan error, 1)
	go func() {
		_, err := loadgen.Run(ctx, loadgen.Config{Brokers: b.Addrs, Duration: 40 * time.Second, Rate: 100, Scenario: "toxicity-incident", Seed: 7})
		lg <- err
	}()
	testenv.Eventually(t, 60*time.Second, "the incident to fire", func() (bool, string) {
		return len(seen()) > 0, ""
	})
	fired := time.Now()
	stop(a)
	a2 := run("aggregate-a2", app.Aggregate)
	defer stop(a2)
	time.Sleep(3 * time.Second)
	stop(bm)
	t.Logf("handed over %s after the incident fired", time.Since(fired).Round(100*time.Millisecond))
	testenv.Must(t, <-lg, "loadgen")
	// Per incident series: firing, resolved, (firing, resolved, ...):
	// never two firings without a resolution between them. The incident
	// resolves only once every series in it has (a series whose windows
	// stay under min_samples keeps firing), so the check runs once the
	// windows after the load have closed (window 2 s, lateness 1 s,
	// idle_close 1 s) whether or not it resolved.
	check := func() (firings int) {
		open := map[string]bool{}
		for _, x := range seen() {
			series := x.AlertID
			switch {
			case x.State == "firing" && !x.Repeat && open[series]:
				t.Errorf("incident %s notified firing twice without resolving: %v", x.AlertID, seen())
			case x.State == "firing" && !x.Repeat:
				open[series] = true
				firings++
			case x.State == "resolved":
				delete(open, series)
			}
		}
		return firings
	}
	time.Sleep(10 * time.Second)
	if check() == 0 {
		t.Errorf("no firing notification: %v", seen())
	}
	// A2 judged the key after taking it over: it reloaded the state.
	resp, err := http.Get("http://" + a2.http + "/metrics")
	testenv.Must(t, err, "a2 metrics")
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	reloads := ""
	for _, l := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(l, "sightline_alert_reloads_total ") {
			reloads = strings.TrimPrefix(l, "sightline_alert_reloads_total ")
		}
	}
	if reloads == "" || reloads == "0" {
		t.Errorf("aggregate-a2 took the key over without reloading the alert state (sightline_alert_reloads_total %q)", reloads)
	}
	t.Logf("notifications %v; a2 reloaded the alert state %s times", seen(), reloads)
}
