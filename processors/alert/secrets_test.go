package alert

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sightline-dev/sightline/internal/server"
	"github.com/sightline-dev/sightline/internal/testenv"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
	"github.com/sightline-dev/sightline/sinks/notify"
)

// Secrets planted in every place an action's configuration can hold one.
const (
	secQuery  = "q7TokQueryS3cret"         // ?token=
	secAccess = "a9AccessTokS3cret"        // ?access_token=
	secSig    = "g4SigS3cretValue"         // ?sig=
	secUser   = "u5UserS3cretName"         // user:password@
	secPass   = "p6PassS3cretWord"         // user:password@
	secSlack  = "x8SlackPathS3cretAbCdEf1" // /services/T/B/<secret>
	secBearer = "b2BearerS3cretTok"        // Authorization: Bearer
	secAPIKey = "k3ApiKeyS3cretVal"        // X-Api-Key (from ${ENV})
	secHMAC   = "h1HmacS3cretSigning"      // webhook and job signing secret
)

// planted is every secret and the forms in which a request carries them.
var planted = []string{secQuery, secAccess, secSig, secUser, secPass, secSlack, secBearer, secAPIKey, secHMAC,
	base64.StdEncoding.EncodeToString([]byte(secUser + ":" + secPass))}

// leakyReceiver fails with status, answering with everything it was sent
// in the formats receivers use (the request line, Go's header map, header
// lines, the raw values), plus the shared signing secret it checked
// against: a debugging receiver or API gateway at its worst.
func leakyReceiver(status int, seen *sync.Map) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		seen.Store(r.Header.Get("Authorization"), true)
		w.WriteHeader(status)
		fmt.Fprintf(w, "%s %s\nfull url: http://%s%s\nheaders: %v\n", r.Method, r.URL.RequestURI(), r.Host, r.URL.RequestURI(), r.Header)
		for k, vs := range r.Header {
			fmt.Fprintf(w, "%s: %s\n", k, strings.Join(vs, ", "))
		}
		q := r.URL.Query()
		fmt.Fprintf(w, "values seen: %s %s %s %s\n", r.Header.Get("Authorization"), r.Header.Get("X-Api-Key"), q.Get("token"), q.Get("sig"))
		if u, p, ok := r.BasicAuth(); ok {
			fmt.Fprintf(w, "login %s / %s refused\n", u, p)
		}
		fmt.Fprintf(w, "signature check used shared secret %s\n", secHMAC)
	})
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestNoSecretStoredOrServed drives alerts through the engine to webhook,
// slack, alertmanager and job actions whose URLs and headers carry secrets,
// at receivers that refuse the connection, fail the TLS handshake, time
// out, answer 500 echoing the request, or answer 404 echoing it. Then no
// planted secret may appear in any string column of llm_alerts and
// llm_jobs, in any log line, or in GET /v1/alerts — and each failure must
// still name its receiver's host, so the operator knows which one failed.
func TestNoSecretStoredOrServed(t *testing.T) {
	conn, _ := testenv.Database(t)
	t.Setenv("SIGHTLINE_TEST_API_KEY", secAPIKey)
	t.Setenv("SIGHTLINE_TEST_HMAC", secHMAC)

	var seen sync.Map
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	testenv.Must(t, err, "listen")
	refused := ln.Addr().String()
	ln.Close() // nothing listens there any more
	hangLn, err := net.Listen("tcp", "127.0.0.1:0")
	testenv.Must(t, err, "listen")
	defer hangLn.Close() // accepts nothing: every attempt times out
	tlsSrv := httptest.NewUnstartedServer(leakyReceiver(http.StatusOK, &seen))
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the failed handshakes are the point
	tlsSrv.StartTLS()                                   // its certificate is not trusted
	defer tlsSrv.Close()
	e500 := httptest.NewServer(leakyReceiver(http.StatusInternalServerError, &seen))
	defer e500.Close()
	e404 := httptest.NewServer(leakyReceiver(http.StatusNotFound, &seen))
	defer e404.Close()
	receivers := []struct{ name, base, host, failure string }{
		{"refused", "http://" + refused, refused, "connection refused"},
		{"tls", tlsSrv.URL, strings.TrimPrefix(tlsSrv.URL, "https://"), "certificate"},
		{"timeout", "http://" + hangLn.Addr().String(), hangLn.Addr().String(), "deadline exceeded"},
		{"500", e500.URL, strings.TrimPrefix(e500.URL, "http://"), "500 Internal Server Error"},
		{"404", e404.URL, strings.TrimPrefix(e404.URL, "http://"), "404 Not Found"},
	}

	headers := map[string]string{"Authorization": "Bearer " + secBearer, "X-Api-Key": "${SIGHTLINE_TEST_API_KEY}", "X-Team": "ml"}
	withCreds := func(base string) string { // scheme://user:password@host
		scheme, host, _ := strings.Cut(base, "://")
		return scheme + "://" + secUser + ":" + secPass + "@" + host
	}
	var actions []notify.ActionConfig
	var names []string
	hostOf := map[string]string{}
	failureOf := map[string]string{}
	for _, rc := range receivers {
		pol := func(a notify.ActionConfig) {
			a.Name = a.Type + "-" + rc.name
			a.Headers, a.Timeout, a.MaxAttempts, a.Backoff, a.MaxBackoff = headers, 500*time.Millisecond, 2, 10*time.Millisecond, 20*time.Millisecond
			actions, names = append(actions, a), append(names, a.Name)
			hostOf[a.Name], failureOf[a.Name] = rc.host, rc.failure
		}
		pol(notify.ActionConfig{Type: notify.TypeWebhook, URL: rc.base + "/hook?token=" + secQuery + "&access_token=" + secAccess,
			Secret: "${SIGHTLINE_TEST_HMAC}"})
		pol(notify.ActionConfig{Type: notify.TypeSlack, URL: rc.base + "/services/T0001/B0001/" + secSlack})
		pol(notify.ActionConfig{Type: notify.TypeAlertmanager, URL: withCreds(rc.base) + "/am"})
		pol(notify.ActionConfig{Type: notify.TypeJob, URL: withCreds(rc.base) + "/jobs?sig=" + secSig + "&token=" + secQuery,
			Secret: "${SIGHTLINE_TEST_HMAC}", Body: `{"alert": {{json .AlertID}}}`})
	}
	logs := &lockedBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e, err := New(Config{Rules: []Rule{toxicRule(names...)}, Actions: actions, Workers: 8, QueueSize: 64}, conn, nil, logger)
	testenv.Must(t, err, "new engine")
	e.Evaluate(context.Background(), []chsink.SignalRow{sig(keyA, t0, "toxicity", "rate", 0.3, 100)})
	e.Evaluate(context.Background(), []chsink.SignalRow{sig(keyA, t0+60, "toxicity", "rate", 0.0, 100)})

	// Firing and resolved for every action, firing only for jobs.
	for _, a := range actions {
		want := uint64(2)
		if a.Type == notify.TypeJob {
			want = 1
		}
		testenv.Eventually(t, 30*time.Second, a.Name+" given up on", func() (bool, string) {
			var n uint64
			if err := conn.QueryRow(context.Background(), `SELECT count() FROM llm_alerts WHERE kind = 'action' AND action = ? AND outcome = 'failed'`,
				a.Name).Scan(&n); err != nil {
				return false, err.Error()
			}
			return n == want, testenv.Sprintf("%d failed rows", n)
		})
	}
	testenv.Must(t, e.Close(context.Background()), "close engine")
	if _, ok := seen.Load("Bearer " + secBearer); !ok {
		t.Fatal("the leaky receivers never saw the planted Authorization header: the test proves nothing")
	}

	// Every failure is recorded with its cause and its receiver's host.
	for _, a := range actions {
		var errText string
		testenv.Must(t, conn.QueryRow(context.Background(), `SELECT error FROM llm_alerts WHERE action = ? AND outcome = 'failed' LIMIT 1`,
			a.Name).Scan(&errText), "error of "+a.Name)
		if !strings.Contains(errText, hostOf[a.Name]) || !strings.Contains(errText, failureOf[a.Name]) {
			t.Errorf("%s: recorded error %q does not name the receiver %s and the failure %q", a.Name, errText, hostOf[a.Name], failureOf[a.Name])
		}
	}
	var quoted uint64
	testenv.Must(t, conn.QueryRow(context.Background(), `SELECT count() FROM llm_alerts WHERE action LIKE '%-500' AND error LIKE '%headers: map[%'`).Scan(&quoted), "quoted")
	if quoted == 0 {
		t.Error("no error quotes the 500 answer: the echoed headers were not put to the test")
	}

	var texts []string
	for _, table := range []string{"llm_alerts", "llm_jobs"} {
		texts = append(texts, stringColumns(t, conn, table)...)
	}
	apiBody := getAlerts(t, conn)
	for _, s := range planted {
		for _, text := range texts {
			if strings.Contains(text, s) {
				t.Errorf("secret %q stored in ClickHouse: %q", s, text)
				break
			}
		}
		if strings.Contains(logs.String(), s) {
			t.Errorf("secret %q logged:\n%s", s, grepLines(logs.String(), s))
		}
		if strings.Contains(apiBody, s) {
			t.Errorf("secret %q served by GET /v1/alerts", s)
		}
	}
	for _, rc := range receivers {
		if !strings.Contains(apiBody, rc.host) || !strings.Contains(logs.String(), rc.host) {
			t.Errorf("receiver %s (%s) is not named in the API answer or the logs", rc.name, rc.host)
		}
	}
	if n := strings.Count(logs.String(), "alert action failed"); n != 35 {
		t.Errorf("%d 'alert action failed' log lines, want 35 (one per notification given up on)", n)
	}
}

// stringColumns returns every value of every String column of table.
func stringColumns(t *testing.T, conn driver.Conn, table string) []string {
	t.Helper()
	ctx := context.Background()
	rows, err := conn.Query(ctx, `SELECT name FROM system.columns WHERE database = currentDatabase() AND table = ? AND type = 'String'`, table)
	testenv.Must(t, err, "columns of "+table)
	var cols []string
	for rows.Next() {
		var c string
		testenv.Must(t, rows.Scan(&c), "column name")
		cols = append(cols, c)
	}
	rows.Close()
	if len(cols) < 10 {
		t.Fatalf("%s has only the String columns %v", table, cols)
	}
	rows, err = conn.Query(ctx, "SELECT "+strings.Join(cols, ", ")+" FROM "+table)
	testenv.Must(t, err, "read "+table)
	defer rows.Close()
	var out []string
	n := 0
	for rows.Next() {
		vals := make([]string, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		testenv.Must(t, rows.Scan(ptrs...), "scan "+table)
		out = append(out, vals...)
		n++
	}
	testenv.Must(t, rows.Err(), "read "+table)
	if n == 0 {
		t.Fatalf("%s is empty", table)
	}
	return out
}

// getAlerts is the body of GET /v1/alerts of a read API over conn.
func getAlerts(t *testing.T, conn driver.Conn) string {
	t.Helper()
	s, err := server.Start(server.Config{Addr: "127.0.0.1:0", Gatherer: prometheus.NewRegistry(), Query: conn})
	testenv.Must(t, err, "start server")
	defer s.Close(context.Background())
	resp, err := http.Get("http://" + s.Addr() + "/v1/alerts?limit=10000")
	testenv.Must(t, err, "GET /v1/alerts")
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"outcome":"failed"`) {
		t.Fatalf("GET /v1/alerts: %s %.500s", resp.Status, body)
	}
	return string(body)
}

func grepLines(text, s string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
