package aggregate_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sightline-dev/sightline/internal/loadgen"
	"github.com/sightline-dev/sightline/internal/testenv"
	"github.com/sightline-dev/sightline/processors/aggregate"
	"github.com/sightline-dev/sightline/processors/alert"
	"github.com/sightline-dev/sightline/processors/detectors/registry"
	"github.com/sightline-dev/sightline/processors/score"
	"github.com/sightline-dev/sightline/processors/window"
	"github.com/sightline-dev/sightline/sinks/notify"
)

// Partials that arrive after their window was written (events hours old in
// event time, after the stream went quiet) are merged into a corrected
// version of the window: the stored counts end up exact, and an alert
// whose threshold only the corrected window crosses fires then, naming
// that window.
func TestLatePartialsCorrectTheWindowAndFireTheAlert(t *testing.T) {
	var mu sync.Mutex
	var fired []notify.Notification
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n notify.Notification
		if json.NewDecoder(r.Body).Decode(&n) == nil && n.State == notify.StateFiring {
			mu.Lock()
			fired = append(fired, n)
			mu.Unlock()
		}
	}))
	defer hook.Close()

	p := &pipeline{t: t, b: testenv.Broker(t, ""), rollup: -1}
	p.conn, _ = testenv.Database(t)
	dets, err := registry.Build(nil)
	testenv.Must(t, err, "detectors")
	st, err := score.New(score.Config{Brokers: p.b.Addrs(), Detectors: dets, BatchSize: 500, FlushInterval: 100 * time.Millisecond,
		Partials: aggregate.NewCollector(winSize, window.DefaultConfig())}, p.conn, prometheus.NewRegistry())
	testenv.Must(t, err, "score stage")
	engine, err := alert.New(alert.Config{
		Actions: []notify.ActionConfig{{Name: "hook", Type: "webhook", URL: hook.URL}},
		Rules: []alert.Rule{{Name: "toxic", Signal: "toxicity/rate", Match: alert.Match{App: "support-bot"}, Operator: ">",
			Threshold: ptr(0.03), MinSamples: 10, Actions: []string{"hook"}}},
	}, p.conn, nil, nil)
	testenv.Must(t, err, "alert engine")
	defer engine.Close(context.Background())
	reg := prometheus.NewRegistry()
	ag, err := aggregate.New(aggregate.Config{Brokers: p.b.Addrs(), Window: winSize, Rollup: -1, Lateness: 5 * time.Second,
		IdleClose: time.Second, SessionTimeout: 30 * time.Second, WindowConfig: window.DefaultConfig(), OnSignals: engine.Evaluate}, p.conn, reg)
	testenv.Must(t, err, "aggregate stage")
	p.run(st.Run)
	p.run(ag.Run)
	t.Cleanup(p.stop)

	// Two hours old: within the correction horizon (6 h by default).
	t0 := time.Now().Add(-2 * time.Hour).Truncate(winSize)
	// Clean traffic in window t0, written once every partition went quiet.
	_, err = loadgen.Run(context.Background(), loadgen.Config{Brokers: p.b.Addrs(), Count: 2000, Seed: 21, Now: clock(t0, 4*time.Millisecond)})
	testenv.Must(t, err, "loadgen")
	p.waitSettled(10, t0.Add(-time.Hour), t0.Add(time.Hour), 2000)
	mu.Lock()
	if len(fired) != 0 {
		t.Fatalf("fired on clean traffic: %+v", fired)
	}
	mu.Unlock()
	// The same window again, with a toxicity incident: all of it late.
	_, err = loadgen.Run(context.Background(), loadgen.Config{Brokers: p.b.Addrs(), Count: 2000, Seed: 22, Scenario: "toxicity-incident",
		Now: clock(t0, 4*time.Millisecond)})
	testenv.Must(t, err, "loadgen")
	p.waitSettled(10, t0.Add(-time.Hour), t0.Add(time.Hour), 4000)
	corrected := gatherCounter(t, reg, "sightline_aggregate_corrected_windows_total")
	if corrected == 0 {
		t.Fatal("no window was corrected")
	}
	testenv.Eventually(t, 30*time.Second, "the alert on the corrected window", func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		for _, n := range fired {
			if n.Window.Start.Equal(t0) {
				return true, ""
			}
		}
		return false, "firing notifications: " + testenv.Sprintf("%d", len(fired))
	})
	t.Logf("%v corrected window versions; firing notifications for corrected windows: %d", corrected, len(fired))

	// Beyond the correction horizon: counted and dropped, not merged.
	old := time.Now().Add(-9 * time.Hour).Truncate(winSize)
	_, err = loadgen.Run(context.Background(), loadgen.Config{Brokers: p.b.Addrs(), Count: 500, Seed: 23, Now: clock(old, 4*time.Millisecond)})
	testenv.Must(t, err, "loadgen")
	testenv.Eventually(t, 60*time.Second, "late events beyond the horizon counted", func() (bool, string) {
		n := gatherCounter(t, reg, "sightline_aggregate_late_dropped_events_total")
		return n == 500, testenv.Sprintf("%v", n)
	})
}

func ptr[T any](v T) *T { return &v }
