package app_test

import (
	"context"
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

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sightline-dev/sightline/internal/app"
	"github.com/sightline-dev/sightline/internal/chlocal"
	"github.com/sightline-dev/sightline/internal/config"
	"github.com/sightline-dev/sightline/internal/loadgen"
	"github.com/sightline-dev/sightline/internal/testenv"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

// The secrets of the scan: each one planted where a user puts one.
const (
	scanWebhookSecret = "whsec-SCAN-5e1f0c7a9b3d"  // the demo's webhook signing secret, from the environment
	scanBearer        = "bearer-SCAN-8c2d41e6f3a7" // Authorization: Bearer ... on the webhook and the job request
	scanAPIKey        = "apikey-SCAN-19f0b2d4c6e8" // X-Api-Key on both, from the environment
	scanCHPassword    = "chpw-SCAN-77ab90c1de42"   // the ClickHouse user's password
)

var scanSecrets = []string{scanWebhookSecret, scanBearer, scanAPIKey, scanCHPassword}

// leaky answers 500 with everything it was sent and the secrets it knows
// (those of its own requests: the job receiver does not know the webhook's
// signing secret): a receiver (or the gateway before it) at its most
// talkative, so that every error path that stores or logs an answer
// carries the secrets.
func leaky(hits *sync.Map, name string, signing string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Header.Get("Authorization") == "Bearer "+scanBearer && r.Header.Get("X-Api-Key") == scanAPIKey {
			n, _ := hits.LoadOrStore(name, new(int))
			*n.(*int)++
		}
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintf(w, "rejected %s %s\nheaders: %v\n", r.Method, r.URL.RequestURI(), r.Header)
		for k, vs := range r.Header {
			fmt.Fprintf(w, "%s: %s\n", k, strings.Join(vs, ", "))
		}
		fmt.Fprintf(w, "body: %.200s\nexpected secret %q, token %s, key %s\n", body, signing, scanBearer, scanAPIKey)
	})
}

// The demo's configuration (deploy/demo/sightline.yaml) run by `up` with a
// known secret as its webhook signing secret, in header values of the
// webhook and the job request, and as the password of the ClickHouse user,
// through the demo's toxicity incident, with receivers that fail and echo
// every secret back: afterwards no secret appears in any log line of up or
// of ClickHouse, nor in any String column of any table (every column of
// every table is read, not a list).
func TestSecretsStayOutOfLogsAndTables(t *testing.T) {
	if _, err := chlocal.FindBinary(); err != nil {
		t.Fatalf("clickhouse-server is required by the suite (make test installs it): %v", err)
	}
	dir := t.TempDir()
	port := func() int {
		p, err := chlocal.FreePort()
		testenv.Must(t, err, "free port")
		return p
	}

	// A ClickHouse whose user "scan" needs the password (users.d is merged
	// over the users.xml chlocal writes).
	chDir := filepath.Join(dir, "clickhouse")
	testenv.Must(t, os.MkdirAll(filepath.Join(chDir, "users.d"), 0o700), "users.d")
	testenv.Must(t, os.WriteFile(filepath.Join(chDir, "users.d", "scan.xml"), []byte(`<?xml version="1.0"?>
<yandex><users><scan><password>`+scanCHPassword+`</password><networks><ip>127.0.0.1</ip></networks>
<profile>default</profile><quota>default</quota></scan></users></yandex>
`), 0o600), "users.d/scan.xml")
	sctx, scancel := context.WithTimeout(context.Background(), 90*time.Second)
	ch, err := chlocal.Start(sctx, chlocal.Config{Dir: chDir, StartTimeout: 90 * time.Second})
	scancel()
	testenv.Must(t, err, "start clickhouse")
	defer ch.Close()
	chOpts := chsink.Options{Addrs: []string{ch.Addr()}, Username: "scan", Password: scanCHPassword}
	if _, err := chsink.Open(context.Background(), chsink.Options{Addrs: []string{ch.Addr()}, Username: "scan", Password: "wrong"}); err == nil {
		t.Fatal("the scan user connects without its password: the password is not in play")
	}

	var hits sync.Map
	hook := httptest.NewServer(leaky(&hits, "webhook", scanWebhookSecret))
	defer hook.Close()
	jobs := httptest.NewServer(leaky(&hits, "job", ""))
	defer jobs.Close()

	// The demo file as shipped, with this test's addresses: receivers,
	// ports, data directory, the ClickHouse user, and the header values.
	demo, err := os.ReadFile(repoFile(t, "deploy/demo/sightline.yaml"))
	testenv.Must(t, err, "read demo config")
	text := string(demo)
	headers := "\n      headers: {Authorization: \"Bearer " + scanBearer + "\", X-Api-Key: \"${SCAN_API_KEY}\"}"
	for old, new := range map[string]string{
		"data_dir: ./sightline-demo-data":                 "data_dir: " + filepath.Join(dir, "data"),
		"url: http://127.0.0.1:9099/hooks/alerts":         "url: " + hook.URL + "/hooks/alerts" + headers,
		"url: http://127.0.0.1:9099/jobs/reeval":          "url: " + jobs.URL + "/jobs/reeval" + headers,
		"body_file: deploy/jobs/reeval-gpu.k8s.json.tmpl": "body_file: " + repoFile(t, "deploy/jobs/reeval-gpu.k8s.json.tmpl"),
		"secret: ${SIGHTLINE_WEBHOOK_SECRET}":             "secret: ${SIGHTLINE_WEBHOOK_SECRET}\n      max_attempts: 2\n      backoff: 200ms",
	} {
		if !strings.Contains(text, old) {
			t.Fatalf("the demo config no longer has %q: update this test", old)
		}
		text = strings.Replace(text, old, new, 1)
	}
	text += fmt.Sprintf(`http_addr: 127.0.0.1:%d
kafka:
  embedded_addr: 127.0.0.1:%d
clickhouse:
  addr: %s
  username: scan
  password: %s
score:
  flush_interval: 200ms
`, port(), port(), ch.Addr(), scanCHPassword)
	cfgPath := filepath.Join(dir, "sightline.yaml")
	testenv.Must(t, os.WriteFile(cfgPath, []byte(text), 0o600), "write config")
	t.Setenv("SIGHTLINE_WEBHOOK_SECRET", scanWebhookSecret)
	t.Setenv("SCAN_API_KEY", scanAPIKey)
	cfg, err := config.Load(cfgPath)
	testenv.Must(t, err, "load config")

	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	upErr := make(chan error, 1)
	go func() {
		upErr <- app.Up(ctx, cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	}()
	stopped := func() {
		select {
		case err := <-upErr:
			t.Fatalf("up stopped: %v\n%s", err, logs.String())
		default:
		}
	}
	testenv.Eventually(t, 120*time.Second, "up to be ready", func() (bool, string) {
		stopped()
		resp, err := http.Get("http://" + cfg.HTTPAddr + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
	// The demo's traffic: the toxicity incident (40% to 70% of the run).
	_, err = loadgen.Run(ctx, loadgen.Config{Brokers: []string{cfg.Kafka.EmbeddedAddr}, Duration: 30 * time.Second, Rate: 200,
		Scenario: "toxicity-incident", Seed: 7})
	testenv.Must(t, err, "loadgen")
	conn, err := chsink.Open(ctx, chOpts)
	testenv.Must(t, err, "open clickhouse as scan")
	defer conn.Close()
	got := func(name string) int {
		if n, ok := hits.Load(name); ok {
			return *n.(*int)
		}
		return 0
	}
	testenv.Eventually(t, 120*time.Second, "the webhook and the job request, with the secret headers, and their failures recorded", func() (bool, string) {
		stopped()
		var failed uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM llm_alerts WHERE kind = 'action' AND outcome != 'ok'").Scan(&failed); err != nil {
			return false, err.Error()
		}
		var jobRows uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM llm_jobs WHERE status_code = 500").Scan(&jobRows); err != nil {
			return false, err.Error()
		}
		return got("webhook") > 0 && got("job") > 0 && failed > 0 && jobRows > 0,
			fmt.Sprintf("webhook %d, job %d requests; %d failed action rows, %d failed job rows", got("webhook"), got("job"), failed, jobRows)
	})
	// Let the retries and the notification queue finish, then stop.
	time.Sleep(3 * time.Second)
	cancel()
	select {
	case err := <-upErr:
		testenv.Must(t, err, "up")
	case <-time.After(60 * time.Second):
		t.Fatal("up did not stop")
	}

	// Logs: up's, and ClickHouse's own.
	logText := logs.String()
	if !strings.Contains(logText, "retention task scheduled") || len(logText) < 1000 {
		t.Fatalf("up logged too little to scan (%d bytes)", len(logText))
	}
	for _, s := range scanSecrets {
		for i, line := range strings.Split(logText, "\n") {
			if strings.Contains(line, s) {
				t.Errorf("up's log line %d holds a secret: %s", i+1, line)
			}
		}
	}
	chLogs, _ := filepath.Glob(filepath.Join(chDir, "log", "*"))
	for _, p := range chLogs {
		b, err := os.ReadFile(p)
		testenv.Must(t, err, "read clickhouse log")
		for _, s := range scanSecrets {
			if strings.Contains(string(b), s) {
				t.Errorf("ClickHouse's log %s holds a secret", p)
			}
		}
	}

	// Tables: every String, Nullable(String) and Array(String) column of
	// every table Sightline made.
	ctx = context.Background()
	scanned, rowsRead := 0, uint64(0)
	for _, col := range stringCols(t, conn) {
		scanned++
		var n uint64
		testenv.Must(t, conn.QueryRow(ctx, "SELECT count() FROM "+col.table).Scan(&n), "count")
		rowsRead += n
		for _, s := range scanSecrets {
			if c := countContaining(t, conn, col, s); c > 0 {
				t.Errorf("%s.%s: %d rows hold a secret", col.table, col.name, c)
			}
		}
	}
	var errorsKept uint64
	testenv.Must(t, conn.QueryRow(ctx, "SELECT count() FROM llm_alerts WHERE kind = 'action' AND error LIKE '%500%'").Scan(&errorsKept), "errors")
	t.Logf("webhook requests %d, job requests %d; %d log bytes, %d ClickHouse log files, %d string columns over %d rows scanned; %d action errors kept (redacted)",
		got("webhook"), got("job"), len(logText), len(chLogs), scanned, rowsRead, errorsKept)
	if scanned < 50 || rowsRead < 1000 || errorsKept == 0 {
		t.Fatalf("the scan read too little to mean anything: %d columns, %d rows, %d action errors", scanned, rowsRead, errorsKept)
	}
}

type column struct{ table, name, typ string }

// stringCols lists the String-typed columns of every table (not views) in
// the connection's database.
func stringCols(t *testing.T, conn driver.Conn) []column {
	t.Helper()
	rows, err := conn.Query(context.Background(), `SELECT table, name, type FROM system.columns
WHERE database = currentDatabase() AND (type LIKE '%String%')
AND table IN (SELECT name FROM system.tables WHERE database = currentDatabase() AND engine NOT LIKE '%View%')
ORDER BY table, name`)
	testenv.Must(t, err, "list columns")
	defer rows.Close()
	var out []column
	for rows.Next() {
		var c column
		testenv.Must(t, rows.Scan(&c.table, &c.name, &c.typ), "scan")
		out = append(out, c)
	}
	return out
}

func countContaining(t *testing.T, conn driver.Conn, c column, s string) uint64 {
	t.Helper()
	var cond string
	switch c.typ {
	case "String", "FixedString":
		cond = "position(" + c.name + ", ?) > 0"
	case "Nullable(String)":
		cond = "position(ifNull(" + c.name + ", ''), ?) > 0"
	case "Array(String)":
		cond = "arrayExists(x -> position(x, ?) > 0, " + c.name + ")"
	default:
		// Any other type with a string inside: compare its text form.
		cond = "position(toString(" + c.name + "), ?) > 0"
	}
	var n uint64
	testenv.Must(t, conn.QueryRow(context.Background(), "SELECT count() FROM "+c.table+" WHERE "+cond, s).Scan(&n), c.table+"."+c.name)
	return n
}

// repoFile resolves a path relative to the module root.
func repoFile(t *testing.T, rel string) string {
	t.Helper()
	wd, _ := os.Getwd()
	for d := wd; d != "/"; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(d, rel)
		}
	}
	t.Fatalf("no module root above %s", wd)
	return ""
}
