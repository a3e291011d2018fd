package app_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sightline-dev/sightline/internal/app"
	"github.com/sightline-dev/sightline/internal/chlocal"
	"github.com/sightline-dev/sightline/internal/config"
	"github.com/sightline-dev/sightline/internal/loadgen"
	"github.com/sightline-dev/sightline/internal/testenv"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

// syncBuffer collects the logs of `up`, shown when the test fails.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// clickhousePid finds the clickhouse-server that `up` runs with the
// config under dir.
func clickhousePid(t *testing.T, dir string) int {
	t.Helper()
	want := "--config-file=" + filepath.Join(dir, "clickhouse", "config.xml")
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !strings.Contains(string(b), want) {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		return pid
	}
	return 0
}

// `up` with its local ClickHouse stalled (SIGSTOP) and then killed
// (SIGKILL): /readyz answers at once throughout and says clickhouse is not
// ready, the broker and ingest keep taking events, the server is
// restarted, and every event sent while it was away reaches ClickHouse.
func TestUpRidesOutALocalClickHouseStallAndCrash(t *testing.T) {
	if _, err := chlocal.FindBinary(); err != nil {
		t.Fatalf("clickhouse-server is required by the suite (make test installs it): %v", err)
	}
	port := func() int {
		p, err := chlocal.FreePort()
		testenv.Must(t, err, "free port")
		return p
	}
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.HTTPAddr = "127.0.0.1:" + strconv.Itoa(port())
	cfg.Kafka.EmbeddedAddr = "127.0.0.1:" + strconv.Itoa(port())
	cfg.ClickHouse.LocalPort, cfg.ClickHouse.LocalHTTP = port(), port()
	cfg.Score.FlushInterval = 200 * time.Millisecond
	logs := &syncBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs of up:\n%s", logs.String())
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	upErr := make(chan error, 1)
	go func() {
		upErr <- app.Up(ctx, cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})))
	}()
	stopped := func() error {
		select {
		case err := <-upErr:
			if err == nil {
				return context.Canceled
			}
			return err
		default:
			return nil
		}
	}

	base := "http://" + cfg.HTTPAddr
	client := &http.Client{Timeout: 5 * time.Second}
	readyz := func() (int, string, time.Duration) {
		start := time.Now()
		resp, err := client.Get(base + "/readyz")
		if err != nil {
			return 0, err.Error(), time.Since(start)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(b)), time.Since(start)
	}
	// watch polls /readyz until cond holds, failing if `up` stops or an
	// answer waits for a ping (2 s). Answers take about a millisecond; the
	// bound is looser than the 100 ms promised so that a loaded test
	// machine does not fail it (TestProbesAnswerFromTheLastPing times the
	// checks themselves).
	var slowest time.Duration
	watch := func(timeout time.Duration, what string, cond func(code int, body string) bool) {
		t.Helper()
		testenv.Eventually(t, timeout, what, func() (bool, string) {
			if err := stopped(); err != nil {
				t.Fatalf("up stopped: %v", err)
			}
			code, body, took := readyz()
			slowest = max(slowest, took)
			if code != 0 && took >= time.Second {
				t.Fatalf("/readyz took %s (%d %s) while waiting for %s", took, code, body, what)
			}
			return cond(code, body), testenv.Sprintf("%d %s", code, body)
		})
	}
	ready := func(code int, _ string) bool { return code == http.StatusOK }
	chNotReady := func(code int, body string) bool {
		return code == http.StatusServiceUnavailable && strings.Contains(body, "clickhouse")
	}
	watch(180*time.Second, "up to be ready", ready)

	conn, err := chsink.Open(ctx, chsink.Options{Addrs: []string{"127.0.0.1:" + strconv.Itoa(cfg.ClickHouse.LocalPort)}})
	testenv.Must(t, err, "open clickhouse")
	defer conn.Close()
	stored := func(want uint64) func() (bool, string) {
		return func() (bool, string) {
			if err := stopped(); err != nil {
				t.Fatalf("up stopped: %v", err)
			}
			var n uint64
			if err := conn.QueryRow(ctx, "SELECT uniqExact(event_id) FROM llm_events").Scan(&n); err != nil {
				return false, err.Error()
			}
			return n == want, testenv.Sprintf("%d events stored", n)
		}
	}
	brokers := []string{cfg.Kafka.EmbeddedAddr}
	_, err = loadgen.Run(ctx, loadgen.Config{Brokers: brokers, Count: 200, Seed: 1})
	testenv.Must(t, err, "loadgen before")
	testenv.Eventually(t, 60*time.Second, "the first events in clickhouse", stored(200))

	pid := clickhousePid(t, cfg.DataDir)
	if pid == 0 {
		t.Fatal("cannot find the clickhouse-server process of up")
	}

	// Stalled: pings hang until their timeout; /readyz must not.
	testenv.Must(t, syscall.Kill(pid, syscall.SIGSTOP), "SIGSTOP")
	stalledAt := time.Now()
	watch(10*time.Second, "clickhouse not ready while stalled", chNotReady)
	t.Logf("stalled: not ready after %s", time.Since(stalledAt).Round(time.Millisecond))
	testenv.Must(t, syscall.Kill(pid, syscall.SIGCONT), "SIGCONT")
	watch(30*time.Second, "ready again after the stall", ready)

	// Killed: not ready, the broker and ingest take events meanwhile.
	testenv.Must(t, syscall.Kill(pid, syscall.SIGKILL), "SIGKILL")
	killedAt := time.Now()
	watch(5*time.Second, "clickhouse not ready after the kill", chNotReady)
	_, err = loadgen.Run(ctx, loadgen.Config{Brokers: brokers, Count: 200, Seed: 2})
	testenv.Must(t, err, "loadgen while clickhouse is down")
	ev := `{"schema_version":1,"event_id":"0190c8e4-5a2b-7c3d-8e4f-0123456789ab","app":"a","model":"m","ts":"2026-11-27T10:00:00Z","prompt":[{"role":"user","content":"hi"}]}`
	resp, err := client.Post(base+"/v1/events", "application/json", strings.NewReader(ev))
	testenv.Must(t, err, "ingest while clickhouse is down")
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("ingest while clickhouse is down answered %d", resp.StatusCode)
	}
	watch(120*time.Second, "ready again after the restart", ready)
	t.Logf("killed: ready again after %s; slowest /readyz answer %s", time.Since(killedAt).Round(time.Millisecond), slowest)
	testenv.Eventually(t, 120*time.Second, "the events sent while clickhouse was down", stored(401))
	if p := clickhousePid(t, cfg.DataDir); p == 0 || p == pid {
		t.Fatalf("clickhouse-server pid %d after the restart, was %d", p, pid)
	}
	resp, err = client.Get(base + "/metrics")
	testenv.Must(t, err, "metrics")
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(metrics), "\nsightline_local_clickhouse_restarts_total 1\n") {
		t.Fatal("/metrics lacks sightline_local_clickhouse_restarts_total 1")
	}

	cancel()
	select {
	case err := <-upErr:
		if err != nil {
			t.Fatalf("up ended with %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("up did not stop within a minute of its context ending")
	}
}
