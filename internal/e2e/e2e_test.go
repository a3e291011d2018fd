// Package e2e holds end-to-end tests that run the sightline binary as a
// separate process, so it can be killed with SIGKILL mid-stream.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"

	"github.com/sightline-dev/sightline/internal/chlocal"
	"github.com/sightline-dev/sightline/internal/loadgen"
	"github.com/sightline-dev/sightline/internal/testenv"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "sightline")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/sightline-dev/sightline/cmd/sightline")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cannot build sightline: %v\n%s", err, out)
	}
	return bin
}

// SDK → broker → score stage (separate process) → ClickHouse: N events in,
// exactly N distinct events visible, although the stage is killed with
// SIGKILL twice mid-stream and restarted.
func TestExactlyNEventsAcrossSIGKILL(t *testing.T) {
	bin := buildBinary(t)
	b := testenv.Broker(t, "")
	conn, opts := testenv.Database(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "sightline.yaml")
	cfg := fmt.Sprintf("clickhouse:\n  addr: %s\n  database: %s\nkafka:\n  brokers: [%s]\nscore:\n  batch_size: 250\n  flush_interval: 100ms\n  session_timeout: 6s\nhttp_addr: 127.0.0.1:0\n",
		opts.Addrs[0], opts.Database, strings.Join(b.Addrs(), ","))
	testenv.Must(t, os.WriteFile(cfgPath, []byte(cfg), 0o644), "write config")

	start := func(i int) *exec.Cmd {
		cmd := exec.Command(bin, "score", "--config", cfgPath, "--log-level", "warn")
		log, _ := os.Create(filepath.Join(dir, fmt.Sprintf("score-%d.log", i)))
		cmd.Stdout, cmd.Stderr = log, log
		testenv.Must(t, cmd.Start(), "start score stage")
		t.Cleanup(func() { killProcess(cmd) })
		return cmd
	}
	count := func(q string) uint64 {
		var n uint64
		testenv.Must(t, conn.QueryRow(context.Background(), q).Scan(&n), q)
		return n
	}

	const n = 20000
	lgDone := make(chan error, 1)
	go func() {
		_, err := loadgen.Run(context.Background(), loadgen.Config{Brokers: b.Addrs(), Count: n, Rate: 5000, Seed: 42})
		lgDone <- err
	}()

	var killedAt []uint64
	for i := 0; i < 2; i++ {
		cmd := start(i)
		threshold := uint64((i + 1) * n / 5)
		testenv.Eventually(t, 60*time.Second, "progress before the kill", func() (bool, string) {
			c := count("SELECT count() FROM llm_events")
			return c >= threshold, fmt.Sprint(c)
		})
		testenv.Must(t, cmd.Process.Signal(syscall.SIGKILL), "SIGKILL")
		cmd.Wait()
		killedAt = append(killedAt, count("SELECT count(DISTINCT event_id) FROM llm_events"))
	}
	final := start(9)
	defer func() { final.Process.Signal(syscall.SIGTERM); final.Wait() }()
	testenv.Must(t, <-lgDone, "loadgen")
	testenv.Eventually(t, 120*time.Second, "all events stored", func() (bool, string) {
		c := count("SELECT count(DISTINCT event_id) FROM llm_events")
		return c >= n, fmt.Sprint(c)
	})
	time.Sleep(500 * time.Millisecond) // let a last batch land, were there one too many
	if killedAt[0] >= n || killedAt[1] >= n {
		t.Fatalf("the kills did not happen mid-stream: %v", killedAt)
	}
	distinct := count("SELECT count(DISTINCT event_id) FROM llm_events")
	final1 := count("SELECT count() FROM llm_events FINAL")
	view := count("SELECT count() FROM llm_events_dedup")
	raw := count("SELECT count() FROM llm_events")
	t.Logf("killed at %v distinct; finally %d distinct, %d with FINAL, %d in the view, %d raw rows (replayed duplicates before merge: %d)",
		killedAt, distinct, final1, view, raw, raw-distinct)
	if distinct != n || final1 != n || view != n {
		t.Fatalf("want exactly %d events, got distinct=%d final=%d view=%d", n, distinct, final1, view)
	}
}

// `sightline loadgen --count N` produces exactly N events.
func TestLoadgenCountIsExact(t *testing.T) {
	b := testenv.Broker(t, "")
	res, err := loadgen.Run(context.Background(), loadgen.Config{Brokers: b.Addrs(), Count: 1234, Seed: 7})
	testenv.Must(t, err, "loadgen")
	if res.Produced != 1234 || res.Failed != 0 {
		t.Fatalf("produced %d, failed %d", res.Produced, res.Failed)
	}
}

func freePort(t *testing.T) int {
	p, err := chlocal.FreePort()
	testenv.Must(t, err, "free port")
	return p
}

// `sightline up` as a user runs it (on free ports): ready only when broker,
// ClickHouse and the stage are; loadgen events are read back by `summary`;
// a restart keeps the broker's log and the stored events; with --otlp an
// OTLP/HTTP GenAI span lands in llm_events too.
func TestUpLoadgenSummaryAndRestart(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	kport, chport, chhttp, hport := freePort(t), freePort(t), freePort(t), freePort(t)
	otlpHTTP := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	// Where the score stage sends gen_ai.evaluation.result events.
	var (
		evalMu    sync.Mutex
		evalNames = map[string]int{}
	)
	evals := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req := plogotlp.NewExportRequest()
		if err := req.UnmarshalProto(body); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		rls := req.Logs().ResourceLogs()
		evalMu.Lock()
		defer evalMu.Unlock()
		for i := 0; i < rls.Len(); i++ {
			sls := rls.At(i).ScopeLogs()
			for j := 0; j < sls.Len(); j++ {
				lrs := sls.At(j).LogRecords()
				for k := 0; k < lrs.Len(); k++ {
					if name, ok := lrs.At(k).Attributes().Get("gen_ai.evaluation.name"); ok && lrs.At(k).EventName() == "gen_ai.evaluation.result" {
						evalNames[name.Str()]++
					}
				}
			}
		}
	}))
	defer evals.Close()
	cfgPath := filepath.Join(dir, "sightline.yaml")
	cfg := fmt.Sprintf("data_dir: %s\nhttp_addr: 127.0.0.1:%d\nkafka:\n  embedded_addr: 127.0.0.1:%d\nclickhouse:\n  local_port: %d\n  local_http_port: %d\nscore:\n  flush_interval: 200ms\n"+
		"otlp:\n  grpc_addr: 127.0.0.1:%d\n  http_addr: %s\n  metrics_addr: 127.0.0.1:%d\nevaluations:\n  otlp_endpoint: %s/v1/logs\n",
		filepath.Join(dir, "data"), hport, kport, chport, chhttp, freePort(t), otlpHTTP, freePort(t), evals.URL)
	testenv.Must(t, os.WriteFile(cfgPath, []byte(cfg), 0o644), "write config")
	up := func(flags ...string) *exec.Cmd {
		cmd := exec.Command(bin, append([]string{"up", "--config", cfgPath}, flags...)...)
		log, _ := os.OpenFile(filepath.Join(dir, "up.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		cmd.Stdout, cmd.Stderr = log, log
		testenv.Must(t, cmd.Start(), "start up")
		t.Cleanup(func() { killProcess(cmd) })
		testenv.Eventually(t, 90*time.Second, "/readyz", func() (bool, string) {
			resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", hport))
			if err != nil {
				return false, err.Error()
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return resp.StatusCode == 200, string(b)
		})
		return cmd
	}
	stop := func(cmd *exec.Cmd) {
		cmd.Process.Signal(syscall.SIGINT)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("sightline up exited with %v", err)
			}
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
			t.Fatal("sightline up did not stop on SIGINT")
		}
	}
	run := func(args ...string) string {
		out, err := exec.Command(bin, append(args, "--config", cfgPath)...).CombinedOutput()
		if err != nil {
			t.Fatalf("sightline %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	summaryCount := func(want string) {
		testenv.Eventually(t, 30*time.Second, "summary shows "+want, func() (bool, string) {
			out := run("summary")
			return strings.Contains(out, "all events: "+want+" stored"), out
		})
	}

	cmd := up()
	run("loadgen", "--count", "500", "--invalid", "3")
	summaryCount("500")
	if out := run("summary"); !strings.Contains(out, "sightline.dlq: 3 records (decode: 1, missing_field: 1, schema_version: 1)") {
		t.Fatalf("summary lacks the DLQ count:\n%s", out)
	}
	// Every score stored in llm_events came back as an evaluation event
	// (at least once: a replayed batch could send more, never fewer).
	conn, err := chsink.Open(context.Background(), chsink.Options{Addrs: []string{fmt.Sprintf("127.0.0.1:%d", chport)}})
	testenv.Must(t, err, "connect to sightline up's ClickHouse")
	defer conn.Close()
	var toxic, injection uint64
	testenv.Must(t, conn.QueryRow(context.Background(), `SELECT countIf(completion_toxicity IS NOT NULL),
		countIf(prompt_injection IS NOT NULL) FROM llm_events FINAL`).Scan(&toxic, &injection), "count scores")
	if toxic == 0 || injection == 0 {
		t.Fatalf("no scores stored (toxicity %d, injection %d)", toxic, injection)
	}
	testenv.Eventually(t, 30*time.Second, "evaluation events", func() (bool, string) {
		evalMu.Lock()
		defer evalMu.Unlock()
		return uint64(evalNames["toxicity"]) >= toxic && uint64(evalNames["prompt_injection"]) >= injection,
			fmt.Sprintf("stored toxicity %d, injection %d; received %v", toxic, injection, evalNames)
	})
	stop(cmd)

	cmd = up("--otlp")
	defer stop(cmd)
	run("loadgen", "--count", "100", "--seed", "2")
	summaryCount("600")
	// The read API answers from the same ClickHouse.
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/v1/summary?since=8760h", hport))
	testenv.Must(t, err, "GET /v1/summary")
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"apps":[{`) {
		t.Fatalf("GET /v1/summary: %s %s", resp.Status, body)
	}
	spans, err := os.ReadFile(filepath.Join("..", "..", "collector", "sightlineexporter", "testdata", "traces", "genai_current.json"))
	testenv.Must(t, err, "read spans")
	resp, err = http.Post("http://"+otlpHTTP+"/v1/traces", "application/json", bytes.NewReader(spans))
	testenv.Must(t, err, "post OTLP spans")
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("OTLP/HTTP answered %s", resp.Status)
	}
	summaryCount("601")
	if out := run("summary"); !strings.Contains(out, "support-bot") {
		t.Fatalf("summary lacks the OTLP call's app:\n%s", out)
	}
}

// killProcess stops a child the test started, should the test end early:
// SIGINT (so sightline up stops its ClickHouse), then SIGKILL.
func killProcess(cmd *exec.Cmd) {
	if cmd.Process == nil || cmd.ProcessState != nil {
		return
	}
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}
