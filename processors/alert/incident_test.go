package alert

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sightline-dev/sightline/internal/testenv"
	"github.com/sightline-dev/sightline/processors/window"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
	"github.com/sightline-dev/sightline/sinks/notify"
)

// receivers are a webhook, a job API and an Alertmanager, recording what
// they were sent.
type receivers struct {
	hook, job, am *httptest.Server
	mu            sync.Mutex
	hooks         []notify.Notification
	hookValues    []map[string]any
	jobKeys       []string
	jobBodies     []map[string]any
	amAlerts      []notify.AlertmanagerAlert
}

func newReceivers(t *testing.T) *receivers {
	r := &receivers{}
	r.hook = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		var n notify.Notification
		var raw map[string]any
		if json.Unmarshal(body, &n) != nil || json.Unmarshal(body, &raw) != nil {
			t.Errorf("webhook body: %s", body)
		}
		r.mu.Lock()
		r.hooks, r.hookValues = append(r.hooks, n), append(r.hookValues, raw)
		r.mu.Unlock()
	}))
	r.job = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		var doc map[string]any
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Errorf("job body is not JSON: %v\n%s", err, body)
		}
		r.mu.Lock()
		r.jobKeys, r.jobBodies = append(r.jobKeys, req.Header.Get(notify.HeaderIdempotencyKey)), append(r.jobBodies, doc)
		r.mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	}))
	r.am = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var alerts []notify.AlertmanagerAlert
		if err := json.NewDecoder(req.Body).Decode(&alerts); err != nil || req.URL.Path != "/api/v2/alerts" {
			t.Errorf("alertmanager request %s: %v", req.URL.Path, err)
		}
		r.mu.Lock()
		r.amAlerts = append(r.amAlerts, alerts...)
		r.mu.Unlock()
	}))
	t.Cleanup(func() { r.hook.Close(); r.job.Close(); r.am.Close() })
	return r
}

func (r *receivers) actions() []notify.ActionConfig {
	return []notify.ActionConfig{
		{Name: "hook", Type: notify.TypeWebhook, URL: r.hook.URL},
		{Name: "reeval", Type: notify.TypeJob, URL: r.job.URL, BodyFile: "../../deploy/jobs/reeval-gpu.k8s.json.tmpl"},
		{Name: "am", Type: notify.TypeAlertmanager, URL: r.am.URL},
	}
}

// observed collects an engine's incident notifications synchronously.
func observed(e *Engine) func() []notify.Notification {
	var mu sync.Mutex
	var got []notify.Notification
	e.observe = func(n notify.Notification) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, n)
	}
	return func() []notify.Notification {
		mu.Lock()
		defer mu.Unlock()
		out := got
		got = nil
		return out
	}
}

// describe prints notifications as "rule-state[lead](member:state ...)".
func describe(ns []notify.Notification) string {
	var out []string
	for _, n := range ns {
		st := n.State
		if n.Repeat {
			st = "repeat"
		}
		var ms []string
		for _, m := range n.Members {
			ms = append(ms, m.Scope.App+"/"+m.Scope.Model+"/"+m.Scope.Variant+":"+m.State)
		}
		out = append(out, fmt.Sprintf("%s %d/%d [%s] (%s)", st, n.MembersFiring, n.MembersTotal, n.Scope.App, strings.Join(ms, " ")))
	}
	return strings.Join(out, "; ")
}

// TestIncidentOneNotificationPerGroup: one toxicity incident over four
// series of one app (and one of another app, its own incident) gives one
// firing notification listing the series that fired, silence when a
// fourth joins, one re-notification listing all four after the interval,
// one resolved notification when the last resolves, and one job request
// per incident; Alertmanager gets every series. The engine restarts in the
// middle of the incident: it notifies nothing again and requests no job.
func TestIncidentOneNotificationPerGroup(t *testing.T) {
	conn, _ := testenv.Database(t)
	rc := newReceivers(t)
	rule := toxicRule("hook", "reeval", "am")
	rule.Renotify = 10 * time.Minute
	cfg := Config{Rules: []Rule{rule}, Actions: rc.actions()}
	key := func(app, model, variant string) window.Key {
		return window.Key{Tenant: "acme-eu", App: app, Model: model, Variant: variant}
	}
	m1c, m1t, m2c, m2t := key("support", "m1", "control"), key("support", "m1", "treat"), key("support", "m2", "control"), key("support", "m2", "treat")
	search := key("search", "m1", "control")
	windowRows := func(start int64, v map[window.Key]float64) []chsink.SignalRow {
		var rows []chsink.SignalRow
		for _, k := range []window.Key{m1c, m1t, m2c, m2t, search} {
			rows = append(rows, sig(k, start, "toxicity", "rate", v[k], 200))
		}
		return rows
	}
	now := time.Unix(t0+3600, 0)
	clock := func() time.Time { return now }

	e1, err := New(cfg, conn, nil, nil)
	testenv.Must(t, err, "new engine")
	e1.Now = clock
	got1 := observed(e1)
	e1.Evaluate(context.Background(), windowRows(t0, map[window.Key]float64{m1c: 0.5, m1t: 0.3, m2c: 0.2, m2t: 0.05, search: 0.4}))
	first := got1()
	if d := describe(first); d != "firing 3/3 [support] (support/m1/control:firing support/m1/treat:firing support/m2/control:firing); "+
		"firing 1/1 [search] (search/m1/control:firing)" {
		t.Fatalf("first window: %s", d)
	}
	incident := first[0]
	if incident.Version != notify.Version2 || incident.Value != 0.5 || incident.Scope.Model != "" || incident.Scope.App != "support" ||
		!slices.Equal(incident.GroupBy, []string{"tenant", "app"}) || !strings.Contains(incident.Text, "firing in 3 of 3 series of tenant=acme-eu app=support; worst 0.5 (m1/control)") {
		t.Fatalf("incident notification: %+v", incident)
	}
	// The members are the series llm_alerts knows: their alert ids are the
	// series' firing episodes, whose rows name the incident.
	for _, m := range incident.Members {
		var inc string
		testenv.Must(t, conn.QueryRow(context.Background(), `SELECT incident_id FROM llm_alerts WHERE kind = 'state' AND state = 'firing' AND alert_id = ?`,
			m.AlertID).Scan(&inc), "member row of "+m.AlertID)
		if inc != incident.AlertID || m.AlertID == incident.AlertID {
			t.Fatalf("member %s: row names incident %q, want %q", m.AlertID, inc, incident.AlertID)
		}
	}
	// A fourth series fires: it joins without a notification.
	e1.Evaluate(context.Background(), windowRows(t0+60, map[window.Key]float64{m1c: 0.5, m1t: 0.3, m2c: 0.2, m2t: 0.4, search: 0.4}))
	if d := describe(got1()); d != "" {
		t.Fatalf("a series joining a firing incident notified: %s", d)
	}
	testenv.Must(t, e1.Close(context.Background()), "close first engine")
	rc.mu.Lock()
	jobsBefore := len(rc.jobKeys)
	rc.mu.Unlock()

	// Restart in the middle of the incident.
	now = now.Add(time.Minute)
	e2, err := New(cfg, conn, nil, nil)
	testenv.Must(t, err, "restart engine")
	e2.Now = clock
	got2 := observed(e2)
	if n := len(e2.incidents); n != 2 || e2.incidents[incidentGFP(t, e2, "support")].firing() != 4 {
		t.Fatalf("reloaded incidents: %d, support's firing members: %v", n, e2.incidents)
	}
	// The aggregate stage replays the last window after a restart, then
	// the incident goes on within the re-notification interval.
	e2.Evaluate(context.Background(), windowRows(t0+60, map[window.Key]float64{m1c: 0.5, m1t: 0.3, m2c: 0.2, m2t: 0.4, search: 0.4}))
	e2.Evaluate(context.Background(), windowRows(t0+120, map[window.Key]float64{m1c: 0.5, m1t: 0.3, m2c: 0.2, m2t: 0.4, search: 0.4}))
	if d := describe(got2()); d != "" {
		t.Fatalf("the restarted engine notified again: %s", d)
	}
	now = now.Add(10 * time.Minute)
	e2.Evaluate(context.Background(), windowRows(t0+180, map[window.Key]float64{m1c: 0.5, m1t: 0.3, m2c: 0.2, m2t: 0.6, search: 0}))
	e2.Evaluate(context.Background(), windowRows(t0+240, map[window.Key]float64{m1c: 0, m1t: 0, m2c: 0.2, m2t: 0.6}))
	e2.Evaluate(context.Background(), windowRows(t0+300, map[window.Key]float64{}))
	rest := got2()
	if d := describe(rest); d != "repeat 4/4 [support] (support/m2/treat:firing support/m1/control:firing support/m1/treat:firing support/m2/control:firing); "+
		"resolved 0/1 [search] (search/m1/control:resolved); "+
		"resolved 0/4 [support] (support/m1/control:resolved support/m1/treat:resolved support/m2/control:resolved support/m2/treat:resolved)" {
		t.Fatalf("after the restart: %s", d)
	}
	if rest[0].AlertID != incident.AlertID || rest[2].AlertID != incident.AlertID || rest[0].Value != 0.6 {
		t.Fatalf("the re-notification and resolution must be the same incident %s: %s %s (lead value %v)",
			incident.AlertID, rest[0].AlertID, rest[2].AlertID, rest[0].Value)
	}
	testenv.Must(t, e2.Close(context.Background()), "close second engine")

	// What the receivers got.
	rc.mu.Lock()
	defer rc.mu.Unlock()
	// Workers deliver concurrently: compare without order.
	sorted := func(ns []notify.Notification) string {
		return strings.Join(slices.Sorted(slices.Values(strings.Split(describe(ns), "; "))), "\n")
	}
	if got, want := sorted(rc.hooks), sorted(append(first, rest...)); got != want {
		t.Fatalf("webhook deliveries:\n%s\nwant\n%s", got, want)
	}
	for i, v := range rc.hookValues {
		ms, _ := v["members"].([]any)
		if v["version"] != 2.0 || len(ms) == 0 || ms[0].(map[string]any)["value"] == nil || v["span"] == nil {
			t.Fatalf("webhook payload %d lacks version 2 fields: %v", i, v)
		}
	}
	keys := slices.Compact(slices.Sorted(slices.Values(rc.jobKeys)))
	if jobsBefore != 2 || len(rc.jobKeys) != 2 || len(keys) != 2 {
		t.Fatalf("job requests: %d before the restart, %d in all, %d keys; want one per incident (2)", jobsBefore, len(rc.jobKeys), len(keys))
	}
	var ids []string
	for _, b := range rc.jobBodies {
		ann := b["metadata"].(map[string]any)["annotations"].(map[string]any)
		ids = append(ids, ann["sightline.dev/alert-id"].(string))
	}
	if !slices.Contains(ids, incident.AlertID) || !slices.Contains(ids, first[1].AlertID) {
		t.Fatalf("job requests for %v, want the incidents %s and %s", ids, incident.AlertID, first[1].AlertID)
	}
	firing, resolved := map[string]bool{}, map[string]bool{}
	for _, a := range rc.amAlerts {
		if a.EndsAt.IsZero() {
			firing[a.Annotations["alert_id"]] = true
		} else {
			resolved[a.Annotations["alert_id"]] = true
		}
	}
	if len(firing) != 5 || len(resolved) != 5 {
		t.Fatalf("alertmanager: %d series firing, %d resolved; want every one of the 5 series", len(firing), len(resolved))
	}

	// llm_alerts: the incident's own history, and one job per incident.
	var kinds string
	testenv.Must(t, conn.QueryRow(context.Background(), `SELECT arrayStringConcat(groupArray(concat(kind, ':', state)), ',') FROM
		(SELECT kind, state FROM llm_alerts WHERE alert_id = ? AND kind != 'action' ORDER BY seq)`, incident.AlertID).Scan(&kinds), "incident rows")
	if kinds != "incident:firing,incident_renotify:firing,incident:resolved" {
		t.Fatalf("incident rows: %s", kinds)
	}
	var jobs, all uint64
	testenv.Must(t, conn.QueryRow(context.Background(), `SELECT countIf(alert_id = ?), count() FROM llm_jobs WHERE outcome = 'ok'`,
		incident.AlertID).Scan(&jobs, &all), "llm_jobs")
	if jobs != 1 || all != 2 {
		t.Fatalf("llm_jobs: %d requests of the incident, %d in all; want 1 and 2", jobs, all)
	}
}

// incidentGFP is the group fingerprint of the test rule's series of app.
func incidentGFP(t *testing.T, e *Engine, app string) string {
	t.Helper()
	for gfp, inc := range e.incidents {
		for _, m := range inc.members {
			if m.s.scope.App == app {
				return gfp
			}
		}
	}
	t.Fatalf("no incident of %s", app)
	return ""
}

// TestGroupBy: which series share an incident.
func TestGroupBy(t *testing.T) {
	conn, _ := testenv.Database(t)
	rows := []chsink.SignalRow{
		sig(window.Key{Tenant: "a", App: "support", Model: "m1", Variant: "x"}, t0, "toxicity", "rate", 0.5, 100),
		sig(window.Key{Tenant: "a", App: "support", Model: "m1", Variant: "y"}, t0, "toxicity", "rate", 0.5, 100),
		sig(window.Key{Tenant: "a", App: "support", Model: "m2", Variant: "x"}, t0, "toxicity", "rate", 0.5, 100),
		sig(window.Key{Tenant: "a", App: "search", Model: "m1", Variant: "x"}, t0, "toxicity", "rate", 0.5, 100),
		sig(window.Key{Tenant: "b", App: "support", Model: "m1", Variant: "x"}, t0, "toxicity", "rate", 0.5, 100),
	}
	for _, tc := range []struct {
		groupBy string // YAML
		want    string // members per incident
	}{
		{"", "1,1,3"},         // default: tenant and app
		{"group_by: []", "5"}, // one incident for the rule
		{"group_by: [variant]", "1,4"},
		{"group_by: [tenant, app, model, variant, group, signal]", "1,1,1,1,1"}, // one per series
	} {
		t.Run(tc.groupBy, func(t *testing.T) {
			cfg, err := ParseConfig([]byte("rules:\n  - name: tox\n    signal: toxicity/rate\n    operator: \">\"\n    threshold: 0.1\n    " + tc.groupBy + "\n"))
			testenv.Must(t, err, "config")
			testenv.Must(t, conn.Exec(context.Background(), "TRUNCATE TABLE llm_alerts"), "truncate")
			e, err := New(cfg, conn, nil, nil)
			testenv.Must(t, err, "new engine")
			defer e.Close(context.Background())
			got := observed(e)
			e.Evaluate(context.Background(), rows)
			var sizes []string
			for _, n := range got() {
				if n.State != notify.StateFiring || len(n.Members) != n.MembersTotal {
					t.Fatalf("notification %s with %d of %d members", n.State, len(n.Members), n.MembersTotal)
				}
				sizes = append(sizes, fmt.Sprint(n.MembersTotal))
			}
			slices.Sort(sizes)
			if s := strings.Join(sizes, ","); s != tc.want {
				t.Fatalf("members per incident: %s, want %s", s, tc.want)
			}
		})
	}
}
