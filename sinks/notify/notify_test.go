package notify

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func testNotification() Notification {
	start := time.Unix(1_760_000_000, 0).UTC()
	w := Window{Start: start, End: start.Add(time.Minute), Seconds: 60}
	s := Scope{Tenant: "acme", App: "support", Model: "gpt-x", Variant: "control", Group: "locale=de"}
	n := Notification{Version: 1, AlertID: "4b7e0a52-52f4-5c63-9a0e-7f1c0f3a2d11", Rule: "toxic-support", Fingerprint: "f00d",
		State: StateFiring, Severity: "critical", Signal: SignalRef{"toxicity", "rate"}, Value: 0.31, Threshold: 0.1,
		Condition: "> 0.1", N: 412, Window: w, Scope: s, Labels: map[string]string{"team": "support"}, StartsAt: start,
		Links: Links{EventsSQL: EventsSQL(s, w, 1000)}, IdempotencyKey: IdempotencyKey("4b7e0a52", "retrain")}
	n.Text = n.Summary()
	return n
}

// testIncident is a version 2 notification: three series of one app, one
// of them resolved with no data.
func testIncident() Notification {
	start := time.Unix(1_760_000_000, 0).UTC()
	w := func(d time.Duration) Window {
		return Window{Start: start.Add(d), End: start.Add(d + time.Minute), Seconds: 60}
	}
	member := func(id, model, variant, state string, v float64, d time.Duration) Member {
		return Member{AlertID: id, Fingerprint: "fp-" + id, State: state, Scope: Scope{Tenant: "acme", App: "support", Model: model, Variant: variant},
			Signal: SignalRef{"toxicity", "rate"}, Value: v, Threshold: 0.1, N: 200, Window: w(d), StartsAt: start}
	}
	ms := []Member{member("s1", "gpt-x", "control", StateFiring, 0.42, time.Minute), member("s2", "gpt-y", "control", StateFiring, 0.2, time.Minute),
		member("s3", "gpt-x", "treat", StateResolved, math.NaN(), time.Minute)}
	ms[2].EndsAt = start.Add(2 * time.Minute)
	span := Span{Start: start, End: start.Add(2 * time.Minute)}
	n := Notification{Version: Version2, AlertID: "9d1e6c1f-0c9a-5b3e-8d4f-3a2b1c0d9e8f", Rule: "toxic-support", Fingerprint: "g00d",
		State: StateFiring, Severity: "critical", Signal: ms[0].Signal, Value: ms[0].Value, Threshold: 0.1, Condition: "> 0.1", N: 200,
		Window: ms[0].Window, Scope: Scope{Tenant: "acme", App: "support"}, StartsAt: start, Span: span,
		Links: Links{EventsSQL: IncidentEventsSQL(ms, span, 1000)}, GroupBy: []string{"tenant", "app"}, Members: ms,
		MembersTotal: 3, MembersFiring: 2, IdempotencyKey: IdempotencyKey("9d1e6c1f", "reeval")}
	n.Text = n.Summary()
	return n
}

// TestIncidentPayload: the version 2 fields in the webhook payload, its
// summary and the events query of all its series.
func TestIncidentPayload(t *testing.T) {
	n := testIncident()
	b, err := json.Marshal(n)
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Version       int               `json:"version"`
		AlertID       string            `json:"alert_id"`
		Value         *float64          `json:"value"`
		Scope         map[string]string `json:"scope"`
		GroupBy       []string          `json:"group_by"`
		MembersTotal  int               `json:"members_total"`
		MembersFiring int               `json:"members_firing"`
		Span          map[string]string `json:"span"`
		Summary       string            `json:"summary"`
		Members       []map[string]any  `json:"members"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m.Version != 2 || m.Value == nil || *m.Value != 0.42 || m.Scope["model"] != "" || m.Scope["app"] != "support" ||
		strings.Join(m.GroupBy, ",") != "tenant,app" || m.MembersTotal != 3 || m.MembersFiring != 2 ||
		m.Span["start"] != "2025-10-09T08:53:20Z" || m.Span["end"] != "2025-10-09T08:55:20Z" || len(m.Members) != 3 {
		t.Fatalf("payload: %s", b)
	}
	if m.Members[0]["alert_id"] != "s1" || m.Members[0]["value"] != 0.42 || m.Members[2]["value"] != nil ||
		m.Members[2]["ends_at"] != "2025-10-09T08:55:20Z" || m.Members[0]["ends_at"] != nil || m.Members[1]["state"] != "firing" {
		t.Fatalf("members: %v", m.Members)
	}
	if want := "[CRITICAL] toxic-support: toxicity/rate > 0.1 firing in 2 of 3 series of tenant=acme app=support; worst 0.42 (gpt-x/control)"; m.Summary != want {
		t.Fatalf("summary %q\nwant    %q", m.Summary, want)
	}
	r := n
	r.State, r.Text = StateResolved, ""
	if got, want := r.Summary(), "[RESOLVED] toxic-support: toxicity/rate > 0.1 resolved in all 3 series of tenant=acme app=support"; got != want {
		t.Fatalf("resolved summary %q", got)
	}
	// One condition per distinct scope, over the incident's span.
	want := "SELECT * FROM llm_events FINAL WHERE ts >= toDateTime(1760000000) AND ts < toDateTime(1760000120) AND (" +
		"(tenant = 'acme' AND app = 'support' AND model = 'gpt-x' AND variant = 'control') OR " +
		"(tenant = 'acme' AND app = 'support' AND model = 'gpt-y' AND variant = 'control') OR " +
		"(tenant = 'acme' AND app = 'support' AND model = 'gpt-x' AND variant = 'treat')) ORDER BY ts, ts_us LIMIT 1000"
	if n.Links.EventsSQL != want {
		t.Fatalf("events SQL:\n%s\nwant\n%s", n.Links.EventsSQL, want)
	}
	// The member label names the signal only when the members' differ.
	n.Members[1].Signal = SignalRef{"refusal", "rate"}
	if l := n.MemberLabel(n.Members[0]); l != "gpt-x/control toxicity/rate" {
		t.Fatalf("label %q", l)
	}
	if v, ok := GroupValue(Scope{}, SignalRef{"a", "b"}, "signal"); v != "a/b" || !ok {
		t.Fatalf("group value of signal: %q", v)
	}
	if (Notification{Version: 2, GroupBy: nil}).GroupLabel() != "all series" {
		t.Fatal("a rule grouped by nothing")
	}
}

// TestAlertmanagerIncident: an incident reaches Alertmanager as one alert
// per series (it groups them itself), each resolved on its own.
func TestAlertmanagerIncident(t *testing.T) {
	n := testIncident()
	n.EndsAt = time.Unix(1_760_000_200, 0).UTC()
	got := AlertmanagerPayload(n, "")
	if len(got) != 3 {
		t.Fatalf("%d alerts", len(got))
	}
	for i, a := range got {
		m := n.Members[i]
		if a.Annotations["alert_id"] != m.AlertID || a.Annotations["incident_id"] != n.AlertID || a.Labels["model"] != m.Scope.Model ||
			a.Labels["variant"] != m.Scope.Variant || a.Annotations["value"] != FormatValue(m.Value) ||
			!strings.Contains(a.Annotations["events_sql"], "model = '"+m.Scope.Model+"'") {
			t.Fatalf("alert %d: %+v", i, a)
		}
		if resolved := !a.EndsAt.IsZero(); resolved != (m.State == StateResolved) {
			t.Fatalf("alert %d: endsAt %v for a %s member", i, a.EndsAt, m.State)
		}
	}
	if one := AlertmanagerPayload(testNotification(), ""); len(one) != 1 || one[0].Annotations["incident_id"] != "" {
		t.Fatalf("version 1: %+v", one)
	}
}

func TestVerifySignature(t *testing.T) {
	secret, body := []byte("k"), []byte(`{"a":1}`)
	now := time.Now().Unix()
	h := func(ts int64, sig string) http.Header {
		x := http.Header{}
		x.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
		x.Set(HeaderSignature, sig)
		return x
	}
	cases := []struct {
		name string
		h    http.Header
		body []byte
		want error
	}{
		{"valid", h(now, Sign(secret, now, body)), body, nil},
		{"rotation: second value matches", h(now, "v1=00ff, "+Sign(secret, now, body)), body, nil},
		{"tampered body", h(now, Sign(secret, now, body)), []byte(`{"a":2}`), ErrSignatureInvalid},
		{"wrong secret", h(now, Sign([]byte("other"), now, body)), body, ErrSignatureInvalid},
		{"timestamp swapped", h(now+1, Sign(secret, now, body)), body, ErrSignatureInvalid},
		{"stale", h(now-600, Sign(secret, now-600, body)), body, ErrStaleTimestamp},
		{"future", h(now+600, Sign(secret, now+600, body)), body, ErrStaleTimestamp},
		{"unsigned", http.Header{}, body, ErrNoSignature},
		{"unknown scheme", h(now, "v0=abc"), body, ErrSignatureInvalid},
	}
	for _, tc := range cases {
		if err := VerifySignature(secret, tc.h, tc.body, 5*time.Minute); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
	// A known vector, computed independently with
	// printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac k
	if got := Sign(secret, 1700000000, body); got != "v1="+knownVector {
		t.Errorf("Sign = %s", got)
	}
}

const knownVector = "1b6ad1bc9bf48c52ce01939866d5877c6cc4e87ddad27e16673cb8c4964394a3"

func TestExpandEnv(t *testing.T) {
	t.Setenv("SL_TEST_TOKEN", "abc")
	if got, err := ExpandEnv("Bearer ${SL_TEST_TOKEN} $NOT ${"); err != nil || got != "Bearer abc $NOT ${" {
		t.Fatalf("%q %v", got, err)
	}
	if _, err := ExpandEnv("${SL_TEST_SURELY_UNSET}"); err == nil || !strings.Contains(err.Error(), "SL_TEST_SURELY_UNSET") {
		t.Fatalf("unset variable: %v", err)
	}
}

func TestPayloadGolden(t *testing.T) {
	n := testNotification()
	n.Value = math.NaN()
	b, err := json.Marshal(n)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m["value"] != nil || m["threshold"] != 0.1 || m["ends_at"] != nil {
		t.Fatalf("NaN value must be null, ends_at omitted: %s", b)
	}
	want := "SELECT * FROM llm_events FINAL WHERE tenant = 'acme' AND app = 'support' AND model = 'gpt-x' AND variant = 'control'" +
		" AND ts >= toDateTime(1760000000) AND ts < toDateTime(1760000060) AND has(segment_keys, 'locale')" +
		" AND segment_values[indexOf(segment_keys, 'locale')] = 'de' ORDER BY ts, ts_us LIMIT 1000"
	if n.Links.EventsSQL != want {
		t.Fatalf("events SQL:\n%s\nwant\n%s", n.Links.EventsSQL, want)
	}
	if q := EventsSQL(Scope{Tenant: `a'b\`}, Window{}, 1); !strings.Contains(q, `tenant = 'a\'b\\'`) {
		t.Fatalf("quoting: %s", q)
	}
}

func TestSlackMessage(t *testing.T) {
	var got map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewDecoder(r.Body).Decode(&got)
		_, _ = w.Write([]byte("ok"))
	}))
	defer srv.Close()
	out, err := (&Slack{URL: srv.URL}).Notify(context.Background(), testNotification())
	if err != nil || out.StatusCode != 200 || out.Body != "ok" {
		t.Fatalf("%+v %v", out, err)
	}
	blocks, _ := got["blocks"].([]any)
	if !strings.HasPrefix(got["text"].(string), "[CRITICAL] toxic-support") || len(blocks) != 4 {
		t.Fatalf("slack message: %v", got)
	}
	if blocks[0].(map[string]any)["type"] != "header" {
		t.Fatalf("first block: %v", blocks[0])
	}
	// An incident lists its series, at most slackListed of them.
	inc := testIncident()
	for len(inc.Members) < 14 {
		inc.Members = append(inc.Members, inc.Members[1])
	}
	inc.MembersTotal = 20
	msg, _ := json.Marshal(SlackMessage(inc))
	for _, want := range []string{`2 of 20 series firing`, "`gpt-x/control` 0.42 (n 200) firing", "`gpt-x/treat` no data (n 200) resolved", `… and 10 more`,
		`tenant=acme app=support`} {
		if !strings.Contains(string(msg), want) {
			t.Fatalf("slack message lacks %q: %s", want, msg)
		}
	}
}

// TestStatusClassification: 4xx is permanent, 429/5xx retryable.
func TestStatusClassification(t *testing.T) {
	for code, permanent := range map[int]bool{400: true, 401: true, 404: true, 408: false, 429: false, 500: false, 503: false} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(code) }))
		out, err := (&Webhook{URL: srv.URL}).Notify(context.Background(), testNotification())
		srv.Close()
		if err == nil || IsPermanent(err) != permanent || out.StatusCode != code {
			t.Errorf("%d: err=%v permanent=%v", code, err, IsPermanent(err))
		}
	}
}

// TestShippedJobTemplates renders every template in deploy/jobs and checks
// that the JSON ones are valid JSON and the reeval one runs sightline
// reeval with a GPU.
func TestShippedJobTemplates(t *testing.T) {
	files, _ := filepath.Glob("../../deploy/jobs/*.tmpl")
	if len(files) == 0 {
		t.Fatal("no templates in deploy/jobs")
	}
	// Job actions get incidents (version 2).
	n := testIncident()
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		j, err := NewJob(JobConfig{Name: filepath.Base(f), URL: "http://x", Body: string(b)})
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out, err := j.Render(n)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if strings.HasSuffix(f, ".json.tmpl") {
			var v any
			if err := json.Unmarshal(out, &v); err != nil {
				t.Fatalf("%s renders invalid JSON: %v\n%s", f, err, out)
			}
		}
		if strings.HasSuffix(f, "reeval-gpu.k8s.json.tmpl") && (!strings.Contains(string(out), `"nvidia.com/gpu"`) || !strings.Contains(string(out), n.AlertID) ||
			!strings.Contains(string(out), `"--app", "support",`) || !strings.Contains(string(out), `"--model", "",`) ||
			!strings.Contains(string(out), `"--from", "2025-10-09T08:53:20Z",`) || !strings.Contains(string(out), `"--to", "2025-10-09T08:55:20Z",`)) {
			t.Fatalf("%s: no GPU request, alert id, or the incident's scope and span for reeval:\n%s", f, out)
		}
	}
}

// FuzzVerifySignature: arbitrary headers and bodies never panic, and only
// a correct signature verifies.
func FuzzVerifySignature(f *testing.F) {
	f.Add("1700000000", "v1=00", []byte("{}"))
	f.Add("-1", "v1=,v1=zz,,", []byte(""))
	f.Add("99999999999999999999", "v1="+strings.Repeat("a", 64), []byte("x"))
	f.Fuzz(func(t *testing.T, ts, sig string, body []byte) {
		h := http.Header{}
		h.Set(HeaderTimestamp, ts)
		h.Set(HeaderSignature, sig)
		if err := VerifySignature([]byte("k"), h, body, 0); err == nil {
			n, _ := strconv.ParseInt(ts, 10, 64)
			if !strings.Contains(sig, Sign([]byte("k"), n, body)[3:]) {
				t.Fatalf("verified a wrong signature %q", sig)
			}
		}
	})
}
