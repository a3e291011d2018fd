package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sightline-dev/sightline/internal/server"
	"github.com/sightline-dev/sightline/internal/testenv"
	"github.com/sightline-dev/sightline/processors/eventfeatures"
	"github.com/sightline-dev/sightline/processors/window"
	"github.com/sightline-dev/sightline/schemas"
	"github.com/sightline-dev/sightline/schemas/eventpb"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestReadAPI writes signals, alert history and events into a real
// ClickHouse the way the stages do, then reads them back through the
// API with its filters, and checks that bad parameters are refused.
func TestReadAPI(t *testing.T) {
	conn, _ := testenv.Database(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Minute)
	pv := 0.001
	thr := 0.1
	key := window.Key{Tenant: "acme", App: "support-bot", Model: "gpt-4o"}
	other := window.Key{Tenant: "acme", App: "search", Model: "gpt-4o"}
	testenv.Must(t, chsink.InsertSignals(ctx, conn, []chsink.SignalRow{
		{Key: key, WindowStart: now.Add(-2 * time.Minute).Unix(), WindowSeconds: 60,
			Signal: window.Signal{Name: "toxicity", Metric: "rate", Value: 0.4, N: 50, Lo: 0.27, Hi: 0.55, Decision: true,
				PValue: &pv, Threshold: &thr, Details: map[string]any{"toxic": 20}}},
		{Key: key, WindowStart: now.Add(-time.Minute).Unix(), WindowSeconds: 60,
			Signal: window.Signal{Name: "toxicity", Metric: "rate", Value: 0, N: 40, Lo: 0, Hi: 0.09}},
		{Key: other, WindowStart: now.Add(-time.Minute).Unix(), WindowSeconds: 60,
			Signal: window.Signal{Name: "latency", Metric: "p90", Value: 812, N: 40, Lo: nan(), Hi: nan()}},
		{Key: key, WindowStart: now.Add(-48 * time.Hour).Unix(), WindowSeconds: 60, // outside the default range
			Signal: window.Signal{Name: "toxicity", Metric: "rate", Value: 0.9, N: 10, Lo: 0.5, Hi: 1, Decision: true}},
	}), "insert signals")

	b, err := conn.PrepareBatch(ctx, `INSERT INTO llm_alerts (ts, alert_id, rule, kind, state, severity, tenant, app, model,
		signal, metric, value, threshold, n, window_start, window_seconds, action, action_type, attempt, outcome, status_code, seq, incident_id)`)
	testenv.Must(t, err, "prepare alerts")
	for i, r := range []struct{ kind, state, action, outcome string }{
		{"state", "firing", "", ""}, {"action", "firing", "hook", "ok"}, {"state", "resolved", "", ""},
	} {
		status := int32(0)
		if r.action != "" {
			status = 202
		}
		testenv.Must(t, b.Append(now.Add(time.Duration(i)*time.Second), "a1", "toxic", r.kind, r.state, "page", "acme",
			"support-bot", "gpt-4o", "toxicity", "rate", 0.4, 0.15, uint64(50), now.Add(-2*time.Minute), uint32(60),
			r.action, map[bool]string{true: "webhook"}[r.action != ""], uint32(map[bool]int{true: 1}[r.action != ""]),
			r.outcome, status, uint64(i+1), map[bool]string{true: "inc-1"}[r.state == "firing"]), "append alert")
	}
	testenv.Must(t, b.Send(), "send alerts")

	var rows []chsink.EventRow
	for i := 0; i < 5; i++ {
		ev := &eventpb.Event{SchemaVersion: schemas.CurrentVersion, EventId: uuid.Must(uuid.NewV7()).String(),
			Tenant: "acme", App: "support-bot", Model: "gpt-4o", Ts: timestamppb.New(now.Add(-time.Duration(i) * time.Second)),
			DurationMs: float64(100 * (i + 1)), InputTokens: 10, OutputTokens: 5,
			Prompt: []*eventpb.Message{{Role: "user", Content: "my email is jane@example.com"}}}
		if i == 0 {
			ev.Error = &eventpb.Error{Type: "timeout"}
		}
		rows = append(rows, chsink.EventRow{Event: ev, Features: eventfeatures.Compute(ev), Offset: int64(i)})
	}
	testenv.Must(t, chsink.InsertEvents(ctx, conn, rows), "insert events")

	s, err := server.Start(server.Config{Addr: "127.0.0.1:0", Gatherer: prometheus.NewRegistry(), Query: conn})
	testenv.Must(t, err, "start")
	defer s.Close(ctx)
	get := func(path string, params url.Values, out any) (int, string) {
		t.Helper()
		resp, err := http.Get("http://" + s.Addr() + path + "?" + params.Encode())
		testenv.Must(t, err, "get "+path)
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode == http.StatusOK && out != nil {
			testenv.Must(t, json.Unmarshal(body, out), "decode "+path)
		}
		return resp.StatusCode, string(body)
	}

	var sig struct{ Signals []chsink.SignalView }
	if code, body := get("/v1/signals", url.Values{"app": {"support-bot"}}, &sig); code != 200 || len(sig.Signals) != 2 {
		t.Fatalf("signals of support-bot: %d %s", code, body)
	}
	first := sig.Signals[0]
	if first.Value == nil || *first.Value != 0.4 || !first.Flagged || first.PValue == nil || *first.PValue != pv ||
		first.Lo == nil || *first.Lo != 0.27 || string(first.Details) != `{"toxic":20}` || !first.WindowStart.Equal(now.Add(-2*time.Minute)) {
		t.Errorf("first signal: %+v", first)
	}
	if sig.Signals[1].PValue != nil || sig.Signals[1].Flagged {
		t.Errorf("second signal has no p-value and is not flagged: %+v", sig.Signals[1])
	}
	sig.Signals = nil
	if code, body := get("/v1/signals", url.Values{"flagged": {"true"}}, &sig); code != 200 || len(sig.Signals) != 1 {
		t.Fatalf("flagged signals of the last day: %d %s", code, body)
	}
	sig.Signals = nil
	if code, body := get("/v1/signals", url.Values{"flagged": {"true"}, "since": {"72h"}}, &sig); code != 200 || len(sig.Signals) != 2 {
		t.Fatalf("flagged signals over 72 hours: %d %s", code, body)
	}
	sig.Signals = nil
	if code, body := get("/v1/signals", url.Values{"signal": {"latency"}, "window_seconds": {"60"}}, &sig); code != 200 ||
		len(sig.Signals) != 1 || sig.Signals[0].Lo != nil || sig.Signals[0].App != "search" {
		t.Fatalf("latency signals: %d %s", code, body)
	}
	sig.Signals = nil
	until := now.Add(-90 * time.Second).Format(time.RFC3339)
	if code, body := get("/v1/signals", url.Values{"app": {"support-bot"}, "until": {until}}, &sig); code != 200 ||
		len(sig.Signals) != 1 || !sig.Signals[0].Flagged {
		t.Fatalf("signals until %s: %d %s", until, code, body)
	}
	sig.Signals = nil
	if code, body := get("/v1/signals", url.Values{"limit": {"1"}}, &sig); code != 200 || len(sig.Signals) != 1 {
		t.Fatalf("limit 1: %d %s", code, body)
	}

	var al struct{ Alerts []chsink.AlertView }
	if code, body := get("/v1/alerts", url.Values{"rule": {"toxic"}}, &al); code != 200 || len(al.Alerts) != 3 ||
		al.Alerts[0].State != "firing" || al.Alerts[1].StatusCode != 202 || al.Alerts[2].State != "resolved" {
		t.Fatalf("alerts: %d %s", code, body)
	}
	al.Alerts = nil
	if code, body := get("/v1/alerts", url.Values{"kind": {"action"}}, &al); code != 200 || len(al.Alerts) != 1 || al.Alerts[0].Action != "hook" {
		t.Fatalf("action rows: %d %s", code, body)
	}
	al.Alerts = nil
	if code, body := get("/v1/alerts", url.Values{"incident_id": {"inc-1"}}, &al); code != 200 || len(al.Alerts) != 2 ||
		al.Alerts[0].IncidentID != "inc-1" || al.Alerts[1].IncidentID != "inc-1" {
		t.Fatalf("rows of incident inc-1: %d %s", code, body)
	}

	var sum struct{ Apps []chsink.AppSummary }
	code, body := get("/v1/summary", url.Values{"tenant": {"acme"}}, &sum)
	if code != 200 || len(sum.Apps) != 1 || sum.Apps[0].Events != 5 || sum.Apps[0].Errors != 1 || sum.Apps[0].Tokens != 75 {
		t.Fatalf("summary: %d %s", code, body)
	}
	if strings.Contains(body, "jane@example.com") {
		t.Fatal("the read API returned event content")
	}

	for _, c := range []struct {
		path   string
		params url.Values
		want   string
	}{
		{"/v1/signals", url.Values{"appp": {"x"}}, `unknown parameter \"appp\"`},
		{"/v1/signals", url.Values{"since": {"yesterday"}}, "since: want an RFC 3339 time"},
		{"/v1/signals", url.Values{"since": {"1h"}, "until": {"2h"}}, "until must be after since"},
		{"/v1/signals", url.Values{"limit": {"0"}}, "limit: must be a whole number from 1 to 10000"},
		{"/v1/signals", url.Values{"window_seconds": {"a minute"}}, "window_seconds"},
		{"/v1/signals", url.Values{"flagged": {"maybe"}}, "flagged"},
		{"/v1/alerts", url.Values{"since": {"-1h"}}, "must not be negative"},
	} {
		if code, body := get(c.path, c.params, nil); code != 400 || !strings.Contains(body, c.want) {
			t.Errorf("%s?%s: %d %s, want 400 with %q", c.path, c.params.Encode(), code, body, c.want)
		}
	}

	// The event's JSON Schema, for producers that validate before sending.
	resp, err := http.Get("http://" + s.Addr() + "/v1/schema")
	testenv.Must(t, err, "get schema")
	schemaBody, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/schema+json" || !json.Valid(schemaBody) ||
		!strings.Contains(string(schemaBody), `"urn:sightline:event:v1"`) {
		t.Fatalf("GET /v1/schema: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}

	// A process without ClickHouse says so.
	bare, err := server.Start(server.Config{Addr: "127.0.0.1:0", Gatherer: prometheus.NewRegistry()})
	testenv.Must(t, err, "start bare")
	defer bare.Close(ctx)
	resp, err = http.Get(fmt.Sprintf("http://%s/v1/signals", bare.Addr()))
	testenv.Must(t, err, "get bare")
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("without ClickHouse: %s", resp.Status)
	}
}

func nan() float64 { var z float64; return z / z }
