package alert

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sightline-dev/sightline/internal/testenv"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
	"github.com/sightline-dev/sightline/sinks/notify"
)

// metricValue returns the value of the series of name with labels, or -1.
func metricValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue next
				}
			}
			if m.Gauge != nil {
				return m.GetGauge().GetValue()
			}
			return m.GetCounter().GetValue()
		}
	}
	return -1
}

func TestMetrics(t *testing.T) {
	conn, _ := testenv.Database(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	reg := prometheus.NewRegistry()
	cfg := Config{Rules: []Rule{toxicRule("hook")}, Actions: []notify.ActionConfig{{Name: "hook", Type: notify.TypeWebhook, URL: srv.URL}}}
	e, err := New(cfg, conn, reg, nil)
	testenv.Must(t, err, "new engine")
	e.Evaluate(context.Background(), []chsink.SignalRow{sig(keyA, t0, "toxicity", "rate", 0.3, 100)})
	testenv.Must(t, e.Close(context.Background()), "close")
	if v := metricValue(t, reg, "sightline_alert_state", map[string]string{"rule": "toxic", "state": "firing"}); v != 1 {
		t.Fatalf("firing gauge %v", v)
	}
	if v := metricValue(t, reg, "sightline_alert_actions_total", map[string]string{"action": "hook", "outcome": "ok"}); v != 1 {
		t.Fatalf("actions_total{ok} %v", v)
	}
	if v := metricValue(t, reg, "sightline_alert_action_queue_dropped_total", nil); v != 0 {
		t.Fatalf("dropped %v", v)
	}
	// A second engine on the same registry is a start-up error, not a panic.
	if _, err := New(cfg, conn, reg, nil); err == nil {
		t.Fatal("duplicate registration accepted")
	}
}
