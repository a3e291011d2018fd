package clickhouse_test

import (
	"context"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sightline-dev/sightline/internal/testenv"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

var updateAlertSQL = flag.Bool("update-alert-sql", false, "rewrite the golden SQL files in testdata/alerts")

// TestAlertSQLGolden: the alert engine's statements are checked into
// testdata/alerts (a review sees any change to them) and run against the
// real ClickHouse: the SELECT is executed, the INSERTs prepared (the server
// checks the explicit column list against the table).
func TestAlertSQLGolden(t *testing.T) {
	conn, _ := testenv.Database(t)
	for _, st := range []struct{ name, sql string }{
		{"insert_alerts", chsink.Alerts.InsertSQL()},
		{"insert_jobs", chsink.Jobs.InsertSQL()},
		{"load_alert_states", chsink.AlertStatesSQL},
	} {
		path := filepath.Join("testdata", "alerts", st.name+".sql")
		text := strings.TrimSpace(st.sql) + "\n"
		if *updateAlertSQL {
			testenv.Must(t, os.MkdirAll(filepath.Dir(path), 0o755), "mkdir")
			testenv.Must(t, os.WriteFile(path, []byte(text), 0o644), "write golden")
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%s: no golden file (run go test ./sinks/clickhouse -run TestAlertSQLGolden -update-alert-sql): %v", st.name, err)
			continue
		}
		if string(want) != text {
			t.Errorf("%s: SQL differs from %s (rerun with -update-alert-sql and review the diff):\n%s", st.name, path, text)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if strings.HasPrefix(st.sql, "INSERT") {
			b, err := conn.PrepareBatch(ctx, st.sql)
			testenv.Must(t, err, st.name)
			_ = b.Abort()
		} else {
			rows, err := conn.Query(ctx, st.sql)
			testenv.Must(t, err, st.name)
			rows.Close()
		}
		cancel()
	}
}

// TestAlertRowsRoundTrip: rows written with Alerts and Jobs read back
// with every column, receiver texts redacted on the way in, and
// LoadAlertStates returns the newest state row of each series and
// incident, skipping action attempts.
func TestAlertRowsRoundTrip(t *testing.T) {
	conn, _ := testenv.Database(t)
	ctx := context.Background()
	ts := time.Unix(1_760_000_120, 0).UTC()
	w := time.Unix(1_760_000_060, 0).UTC()
	base := chsink.AlertRow{Rule: "toxic", Severity: "critical", Tenant: "acme", App: "support", Model: "gpt-x", Variant: "control",
		Group: "locale=de", Signal: "toxicity", Metric: "rate", Value: 0.3, Threshold: 0.1, Condition: "> 0.1", N: 412, Consecutive: 2,
		WindowStart: w, WindowSeconds: 60, StartedAt: w.Add(-time.Minute), NotifiedAt: ts, Labels: `{"team":"support"}`, TS: ts}
	row := func(fp, kind, state, alertID, incidentID string, seq uint64) chsink.AlertRow {
		r := base
		r.Fingerprint, r.Kind, r.State, r.AlertID, r.IncidentID, r.Seq = fp, kind, state, alertID, incidentID, seq
		return r
	}
	action := row("s1", chsink.AlertKindAction, "firing", "inc-1", "inc-1", 40)
	action.Action, action.ActionType, action.Attempt, action.Outcome, action.StatusCode, action.DurationMS = "hook", "webhook", 2, "failed", 500, 12.5
	action.Error = "POST https://hooks.example.com/x?token=planted-q-secret: 500 Internal Server Error"
	rows := []chsink.AlertRow{
		row("s1", chsink.AlertKindState, "pending", "a-1", "", 10),
		row("s1", chsink.AlertKindState, "firing", "a-1", "inc-1", 20),
		row("g1", chsink.AlertKindIncident, "firing", "inc-1", "inc-1", 30),
		action, // newer than s1's state rows, and not a state
		row("g1", chsink.AlertKindIncidentRenotify, "firing", "inc-1", "inc-1", 50),
		row("s2", chsink.AlertKindState, "resolved", "a-2", "inc-0", 60),
	}
	rows[len(rows)-1].Value = math.NaN() // no data: stored as NaN, read back as NaN
	testenv.Must(t, chsink.Alerts.Insert(ctx, conn, rows), "insert llm_alerts")
	job := chsink.JobRow{IdempotencyKey: "sl-1", AlertID: "inc-1", Rule: "toxic", Fingerprint: "g1", Action: "reeval", Method: "POST",
		URL: "https://k8s.example.com/apis?access_token=planted-url-secret", Tenant: "acme", App: "support", WindowStart: w, WindowSeconds: 60,
		Attempt: 1, Outcome: "ok", StatusCode: 201, Response: `{"callback":"https://x.example.com/cb?sig=planted-answer-secret"}`,
		DurationMS: 3, TS: ts, Seq: 70}
	testenv.Must(t, chsink.Jobs.Insert(ctx, conn, []chsink.JobRow{job}), "insert llm_jobs")

	var errText, incident, labels string
	var status int32
	var dur float64
	testenv.Must(t, conn.QueryRow(ctx, `SELECT error, incident_id, labels, status_code, duration_ms FROM llm_alerts WHERE kind = 'action'`).
		Scan(&errText, &incident, &labels, &status, &dur), "read action row")
	if strings.Contains(errText, "planted") || !strings.Contains(errText, "hooks.example.com") || incident != "inc-1" ||
		labels != `{"team":"support"}` || status != 500 || dur != 12.5 {
		t.Fatalf("action row: error %q incident %q labels %q status %d duration %v", errText, incident, labels, status, dur)
	}
	var url, resp, key string
	testenv.Must(t, conn.QueryRow(ctx, `SELECT url, response, idempotency_key FROM llm_jobs`).Scan(&url, &resp, &key), "read job row")
	if strings.Contains(url+resp, "planted") || !strings.Contains(url, "k8s.example.com") || key != "sl-1" {
		t.Fatalf("job row: url %q response %q key %q", url, resp, key)
	}

	states, err := chsink.LoadAlertStates(ctx, conn)
	testenv.Must(t, err, "load states")
	if len(states) != 3 {
		t.Fatalf("%d states, want g1, s1, s2: %+v", len(states), states)
	}
	g1, s1, s2 := states[0], states[1], states[2]
	if g1.Fingerprint != "g1" || g1.Kind != chsink.AlertKindIncidentRenotify || g1.IncidentID != "inc-1" || g1.State != "firing" {
		t.Errorf("incident state: %+v", g1)
	}
	if s1.Fingerprint != "s1" || s1.Kind != chsink.AlertKindState || s1.State != "firing" || s1.AlertID != "a-1" || s1.IncidentID != "inc-1" ||
		s1.Rule != "toxic" || s1.Tenant != "acme" || s1.App != "support" || s1.Model != "gpt-x" || s1.Variant != "control" ||
		s1.Group != "locale=de" || s1.Signal != "toxicity" || s1.Metric != "rate" || s1.Value != 0.3 || s1.Threshold != 0.1 ||
		s1.N != 412 || s1.Consecutive != 2 || !s1.WindowStart.Equal(w) || s1.WindowSeconds != 60 ||
		!s1.StartedAt.Equal(w.Add(-time.Minute)) || !s1.NotifiedAt.Equal(ts) {
		t.Errorf("series state (the action attempt must not count): %+v", s1)
	}
	if s2.Fingerprint != "s2" || s2.State != "resolved" || s2.IncidentID != "inc-0" || !math.IsNaN(s2.Value) {
		t.Errorf("resolved series: %+v", s2)
	}
}
