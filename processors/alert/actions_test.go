package alert

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sightline-dev/sightline/internal/testenv"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
	"github.com/sightline-dev/sightline/sinks/notify"
)

func toxicRule(actions ...string) Rule {
	return Rule{Name: "toxic", Signal: "toxicity/rate", Operator: ">", Threshold: f(0.1), Severity: "critical",
		Labels: map[string]string{"team": "support"}, Actions: actions}
}

// TestWebhookSignedDelivery: a receiver verifies the signature with
// VerifySignature; the firing notification arrives within the Evaluate
// that saw the window, the resolved one after it, and both attempts are
// recorded.
func TestWebhookSignedDelivery(t *testing.T) {
	conn, _ := testenv.Database(t)
	secret := "s3cr3t-for-test"
	t.Setenv("SIGHTLINE_TEST_WEBHOOK_SECRET", secret)
	type delivery struct {
		n  map[string]any
		at time.Time
	}
	got := make(chan delivery, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := notify.VerifySignature([]byte(secret), r.Header, body, 5*time.Minute); err != nil {
			t.Errorf("receiver: %v", err)
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var n map[string]any
		if err := json.Unmarshal(body, &n); err != nil {
			t.Errorf("receiver: %v", err)
		}
		got <- delivery{n, time.Now()}
	}))
	defer srv.Close()
	cfg := Config{Rules: []Rule{toxicRule("hook")}, Actions: []notify.ActionConfig{
		{Name: "hook", Type: notify.TypeWebhook, URL: srv.URL, Secret: "${SIGHTLINE_TEST_WEBHOOK_SECRET}"}}}
	e, err := New(cfg, conn, nil, nil)
	testenv.Must(t, err, "new engine")
	defer e.Close(context.Background())

	start := time.Now()
	e.Evaluate(context.Background(), []chsink.SignalRow{sig(keyA, t0, "toxicity", "rate", 0.3, 100)})
	evalDur := time.Since(start)
	var d delivery
	select {
	case d = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("no webhook delivery")
	}
	t.Logf("Evaluate took %s; webhook delivered %s after Evaluate was called", evalDur, d.at.Sub(start))
	if d.n["state"] != "firing" || d.n["rule"] != "toxic" || d.n["value"] != 0.3 || d.n["threshold"] != 0.1 || d.n["severity"] != "critical" {
		t.Fatalf("payload: %v", d.n)
	}
	scope := d.n["scope"].(map[string]any)
	links := d.n["links"].(map[string]any)
	if scope["tenant"] != "acme-eu" || !strings.Contains(links["events_sql"].(string), "FROM llm_events FINAL WHERE ts >= toDateTime(1760000000)") ||
		!strings.Contains(links["events_sql"].(string), "(tenant = 'acme-eu' AND app = 'support'") {
		t.Fatalf("payload scope/links: %v %v", scope, links)
	}
	// The link is a query ClickHouse accepts.
	rows, err := conn.Query(context.Background(), links["events_sql"].(string))
	testenv.Must(t, err, "events query from the link")
	rows.Close()

	e.Evaluate(context.Background(), []chsink.SignalRow{sig(keyA, t0+60, "toxicity", "rate", 0.0, 100)})
	select {
	case d = <-got:
		if d.n["state"] != "resolved" || d.n["ends_at"] == nil || d.n["alert_id"] == "" {
			t.Fatalf("resolved payload: %v", d.n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no resolved delivery")
	}
	waitRows(t, conn, `SELECT count() FROM llm_alerts WHERE kind = 'action' AND action = 'hook' AND outcome = 'ok' AND status_code = 200`, 2)
}

// waitRows polls a count query until it reaches want.
func waitRows(t *testing.T, conn driver.Conn, query string, want uint64) {
	t.Helper()
	testenv.Eventually(t, 15*time.Second, query, func() (bool, string) {
		var n uint64
		if err := conn.QueryRow(context.Background(), query).Scan(&n); err != nil {
			return false, err.Error()
		}
		return n == want, testenv.Sprintf("%d rows", n)
	})
}

// TestFailingReceivers: receivers that hang, answer 500 or close the
// connection are retried and finally recorded as failed, while Evaluate
// returns at once.
func TestFailingReceivers(t *testing.T) {
	conn, _ := testenv.Database(t)
	release := make(chan struct{})
	var hangCalls, errCalls, closeCalls atomic.Int32
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hangCalls.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	fail := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		errCalls.Add(1)
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	hijack := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		closeCalls.Add(1)
		c, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			c.Close()
		}
	}))
	defer func() { close(release); hang.Close(); fail.Close(); hijack.Close() }()

	pol := func(name, url string) notify.ActionConfig {
		return notify.ActionConfig{Name: name, Type: notify.TypeWebhook, URL: url, Timeout: 300 * time.Millisecond,
			MaxAttempts: 3, Backoff: 20 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}
	}
	cfg := Config{Rules: []Rule{toxicRule("hang", "fail", "close")},
		Actions: []notify.ActionConfig{pol("hang", hang.URL), pol("fail", fail.URL), pol("close", hijack.URL)}, Workers: 3, QueueSize: 16}
	e, err := New(cfg, conn, nil, nil)
	testenv.Must(t, err, "new engine")
	defer e.Close(context.Background())

	// Many windows while the receivers misbehave: each Evaluate stays fast.
	// Were Evaluate to wait for the receivers, each call would take about a
	// second (three 300 ms attempts plus backoff) and the 20 calls at least
	// 18 s; the bound is on the total, below that but loose enough for the
	// llm_alerts inserts on a loaded machine (8 s was exceeded at a load
	// average of 7 on two cores).
	var worst, total time.Duration
	for w := range 20 {
		v := 0.5
		if w%2 == 1 {
			v = 0 // alternate firing and resolved: every call queues notifications
		}
		start := time.Now()
		e.Evaluate(context.Background(), []chsink.SignalRow{sig(keyA, t0+int64(60*w), "toxicity", "rate", v, 100)})
		worst = max(worst, time.Since(start))
		total += time.Since(start)
	}
	t.Logf("slowest Evaluate while receivers hang/fail: %s, all 20: %s (includes the llm_alerts inserts)", worst, total)
	if total > 15*time.Second {
		t.Fatalf("20 Evaluate calls took %s with failing receivers: they must not wait for them", total)
	}
	// Every action: attempts 1 and 2 are retries, 3 failed — for the
	// notifications the queue took; the rest were dropped and counted.
	for _, a := range []string{"hang", "fail", "close"} {
		testenv.Eventually(t, 30*time.Second, a+" attempts recorded", func() (bool, string) {
			var retry, failed, dropped uint64
			err := conn.QueryRow(context.Background(), `SELECT countIf(outcome = 'retry'), countIf(outcome = 'failed'), countIf(outcome = 'dropped')
				FROM llm_alerts WHERE kind = 'action' AND action = ?`, a).Scan(&retry, &failed, &dropped)
			if err != nil {
				return false, err.Error()
			}
			return failed >= 1 && retry == 2*failed && failed+dropped == 20, testenv.Sprintf("retry=%d failed=%d dropped=%d", retry, failed, dropped)
		})
	}
	if hangCalls.Load() == 0 || errCalls.Load() == 0 || closeCalls.Load() == 0 {
		t.Fatalf("calls: hang=%d 500=%d close=%d", hangCalls.Load(), errCalls.Load(), closeCalls.Load())
	}
	var errText string
	testenv.Must(t, conn.QueryRow(context.Background(), `SELECT error FROM llm_alerts WHERE action = 'fail' AND outcome = 'failed' LIMIT 1`).Scan(&errText), "error")
	if !strings.Contains(errText, "500") {
		t.Fatalf("recorded error %q", errText)
	}
}

// TestJobIdempotency: the job endpoint fails the first attempt after
// accepting it (as a flaky API gateway would); the retry carries the same
// Idempotency-Key, the receiver deduplicates, one job starts, and
// llm_jobs holds both attempts. A re-notification does not request another
// job.
func TestJobIdempotency(t *testing.T) {
	conn, _ := testenv.Database(t)
	t.Setenv("SIGHTLINE_TEST_JOB_TOKEN", "tok-123")
	var mu sync.Mutex
	jobs := map[string]string{} // key -> body
	var keys []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Header.Get("Authorization") != "Bearer tok-123" {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		key := r.Header.Get("Idempotency-Key")
		mu.Lock()
		defer mu.Unlock()
		keys = append(keys, key)
		if _, dup := jobs[key]; dup {
			w.WriteHeader(http.StatusConflict + 0*len(body))
			_, _ = w.Write([]byte(`{"status":"exists"}`))
			return
		}
		jobs[key] = string(body)
		if len(keys) == 1 {
			http.Error(w, "gateway timeout after accepting", http.StatusBadGateway)
			return
		}
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"job":"started"}`))
	}))
	defer srv.Close()
	body := `{"name": "{{k8sname (printf "retrain-%s" (short .AlertID))}}", "key": {{json .IdempotencyKey}}, "tenant": {{json .Scope.Tenant}}, "window_start": {{unix .Window.Start}}}`
	r := toxicRule("retrain")
	r.Renotify = time.Minute
	cfg := Config{Rules: []Rule{r}, Actions: []notify.ActionConfig{{Name: "retrain", Type: notify.TypeJob, URL: srv.URL,
		Headers: map[string]string{"Authorization": "Bearer ${SIGHTLINE_TEST_JOB_TOKEN}"}, Body: body,
		MaxAttempts: 3, Backoff: 10 * time.Millisecond}}}
	e, err := New(cfg, conn, nil, nil)
	testenv.Must(t, err, "new engine")
	now := time.Now()
	e.Now = func() time.Time { return now }
	e.Evaluate(context.Background(), []chsink.SignalRow{sig(keyA, t0, "toxicity", "rate", 0.3, 100)})
	now = now.Add(2 * time.Minute)
	e.Evaluate(context.Background(), []chsink.SignalRow{sig(keyA, t0+60, "toxicity", "rate", 0.3, 100)}) // re-notify: no job
	testenv.Must(t, e.Close(context.Background()), "close drains the queue")

	mu.Lock()
	defer mu.Unlock()
	if len(keys) != 2 || keys[0] != keys[1] || !strings.HasPrefix(keys[0], "sl-") {
		t.Fatalf("idempotency keys of the attempts: %q", keys)
	}
	if len(jobs) != 1 {
		t.Fatalf("%d jobs started", len(jobs))
	}
	var job map[string]any
	testenv.Must(t, json.Unmarshal([]byte(jobs[keys[0]]), &job), "job body is JSON")
	if job["key"] != keys[0] || job["tenant"] != "acme-eu" || !strings.HasPrefix(job["name"].(string), "retrain-") {
		t.Fatalf("job body: %v", job)
	}
	var n uint64
	var codes string
	testenv.Must(t, conn.QueryRow(context.Background(), `SELECT count(), arrayStringConcat(groupArray(toString(status_code)), ',')
		FROM (SELECT status_code FROM llm_jobs WHERE idempotency_key = ? ORDER BY seq)`, keys[0]).Scan(&n, &codes), "llm_jobs")
	if n != 2 || codes != "502,409" {
		t.Fatalf("llm_jobs: %d rows, statuses %s", n, codes)
	}
}

// TestQueueFullDrops: a full queue drops and counts instead of blocking.
func TestQueueFullDrops(t *testing.T) {
	conn, _ := testenv.Database(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	testenv.Must(t, err, "listen")
	defer ln.Close() // accepts nothing: every attempt hangs until its timeout
	cfg := Config{Rules: []Rule{toxicRule("slow")}, Workers: 1, QueueSize: 1,
		Actions: []notify.ActionConfig{{Name: "slow", Type: notify.TypeWebhook, URL: "http://" + ln.Addr().String(), Timeout: 2 * time.Second, MaxAttempts: 1}}}
	e, err := New(cfg, conn, nil, nil)
	testenv.Must(t, err, "new engine")
	start := time.Now()
	for w := range 10 {
		e.Evaluate(context.Background(), []chsink.SignalRow{sig(keyA, t0+int64(60*w), "toxicity", "rate", float64(w%2), 100)})
	}
	// Waiting for the hanging receiver would cost 2 s a call (20 s).
	if d := time.Since(start); d > 6*time.Second {
		t.Fatalf("10 Evaluate calls took %s", d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_ = e.Close(ctx) // gives up on the hanging attempt
	// Nine notifications (firing and resolved alternate after the first
	// window); one worker holds the first, the queue one more, so seven
	// or eight are dropped, depending on whether the worker took the
	// first before the second came.
	q := `SELECT count() FROM llm_alerts WHERE kind = 'action' AND outcome = 'dropped'`
	testenv.Eventually(t, 15*time.Second, q, func() (bool, string) {
		var n uint64
		if err := conn.QueryRow(context.Background(), q).Scan(&n); err != nil {
			return false, err.Error()
		}
		return n == 7 || n == 8, testenv.Sprintf("%d rows", n)
	})
}
