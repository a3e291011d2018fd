package chlocal_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sightline-dev/sightline/internal/chlocal"
	"github.com/sightline-dev/sightline/internal/testenv"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

func supervise(t *testing.T, cfg chlocal.Config, p chlocal.RestartPolicy, reg prometheus.Registerer) *chlocal.Supervisor {
	t.Helper()
	if _, err := chlocal.FindBinary(); err != nil {
		t.Fatalf("clickhouse-server is required by the suite (make test installs it): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cfg.StartTimeout = 90 * time.Second
	s, err := chlocal.Supervise(ctx, cfg, p, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// A SIGKILLed server comes back on the same address with its data, and a
// connection pool opened before the crash works again without being
// reopened: every query after the server answers again succeeds.
func TestSupervisorRestartsAKilledServer(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := supervise(t, chlocal.Config{Dir: t.TempDir()}, chlocal.RestartPolicy{MinBackoff: 100 * time.Millisecond}, reg)
	ctx := context.Background()
	conn, err := chsink.Open(ctx, chsink.Options{Addrs: []string{s.Addr()}, MaxOpenConns: 4})
	testenv.Must(t, err, "open")
	defer conn.Close()
	testenv.Must(t, conn.Exec(ctx, "CREATE TABLE kept (x UInt32) ENGINE = MergeTree ORDER BY x"), "create")
	testenv.Must(t, conn.Exec(ctx, "INSERT INTO kept SELECT toUInt32(number) FROM system.numbers LIMIT 3"), "insert")
	// Fill the pool with idle connections that the crash will break.
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var n uint64
			_ = conn.QueryRow(ctx, "SELECT count() FROM numbers(1000000)").Scan(&n)
		}()
	}
	wg.Wait()

	pid := s.Pid()
	testenv.Must(t, syscall.Kill(pid, syscall.SIGKILL), "kill")
	testenv.Eventually(t, 90*time.Second, "a restarted server", func() (bool, string) {
		return s.Running() && s.Pid() != pid, testenv.Sprintf("running %v, pid %d", s.Running(), s.Pid())
	})
	for i := 0; i < 8; i++ {
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM kept").Scan(&n); err != nil || n != 3 {
			t.Fatalf("query %d after the restart: %d rows, %v", i, n, err)
		}
	}
	if n := metric(t, reg, "sightline_local_clickhouse_restarts_total"); n != 1 {
		t.Fatalf("sightline_local_clickhouse_restarts_total = %v, want 1", n)
	}
	select {
	case <-s.Done():
		t.Fatalf("supervisor stopped: %v", s.Err())
	default:
	}
	s.Close()
	if s.Running() || s.Err() != nil {
		t.Fatalf("after Close: running %v, err %v", s.Running(), s.Err())
	}
}

// metric is the value of a counter or gauge without labels.
func metric(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	testenv.Must(t, err, "gather")
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		m := mf.GetMetric()[0]
		if c := m.GetCounter(); c != nil {
			return c.GetValue()
		}
		return m.GetGauge().GetValue()
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// A server that dies at every start makes the supervisor give up with an
// error naming the log to read, instead of restarting it forever.
func TestSupervisorGivesUpOnACrashLoop(t *testing.T) {
	bins, err := chlocal.FindBinary()
	if err != nil {
		t.Fatalf("clickhouse-server is required by the suite (make test installs it): %v", err)
	}
	dir := t.TempDir()
	// The real server the first time, an immediate crash afterwards.
	script := filepath.Join(dir, "clickhouse-once")
	marker := filepath.Join(dir, "started")
	body := "#!/bin/sh\nif [ -e " + marker + " ]; then echo crash >&2; exit 3; fi\ntouch " + marker + "\nexec " + strings.Join(bins, " ") + " \"$@\"\n"
	testenv.Must(t, os.WriteFile(script, []byte(body), 0o700), "write script")
	reg := prometheus.NewRegistry()
	s := supervise(t, chlocal.Config{Dir: filepath.Join(dir, "ch"), Binary: script},
		chlocal.RestartPolicy{MinBackoff: 10 * time.Millisecond, MaxBackoff: 40 * time.Millisecond, MaxFailures: 3, Window: time.Minute}, reg)
	if metric(t, reg, "sightline_local_clickhouse_up") != 1 {
		t.Fatal("sightline_local_clickhouse_up is not 1 while the server runs")
	}
	testenv.Must(t, syscall.Kill(s.Pid(), syscall.SIGKILL), "kill")
	select {
	case <-s.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("the supervisor still restarts a server that crashes at every start")
	}
	err = s.Err()
	if err == nil || !strings.Contains(err.Error(), s.ErrorLog()) || !strings.Contains(err.Error(), "3 times") {
		t.Fatalf("gave up with %v; want the failure count and the log file %s", err, s.ErrorLog())
	}
	if s.Running() || metric(t, reg, "sightline_local_clickhouse_up") != 0 {
		t.Fatal("reported running after giving up")
	}
	if n := metric(t, reg, "sightline_local_clickhouse_restarts_total"); n != 0 {
		t.Fatalf("counted %v restarts, none succeeded", n)
	}
}
