package faults

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sightline-dev/sightline/internal/chlocal"
	"github.com/sightline-dev/sightline/internal/testenv"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
	"github.com/sightline-dev/sightline/sinks/notify"
)

// EnvFull selects the full suite (the figures in the README); without it
// the short one runs (what `make test` runs).
const EnvFull = "SIGHTLINE_FAULTS"

func full() bool { return os.Getenv(EnvFull) == "full" }

// pick is short in the short suite and long in the full one.
func pick[T any](short, long T) T {
	if full() {
		return long
	}
	return short
}

// windowing is the window setup of a run: the full suite compares per key
// and minute with the production defaults; the short one uses 10 s windows
// so a run takes a minute, not ten.
type windowing struct {
	window, lateness, idle time.Duration
}

func windows() windowing {
	return pick(windowing{10 * time.Second, 5 * time.Second, 3 * time.Second},
		windowing{time.Minute, 30 * time.Second, 10 * time.Second})
}

func (w windowing) yaml() string {
	return fmt.Sprintf("aggregate:\n  window: %s\n  lateness: %s\n  idle_close: %s\n  rollup: -1s\n",
		w.window, w.lateness, w.idle)
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// binary builds the sightline binary once per test binary.
func binary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sightline-faults-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "sightline")
		cmd := exec.Command("go", "build", "-o", binPath, "github.com/sightline-dev/sightline/cmd/sightline")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("%v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatalf("cannot build sightline: %v", binErr)
	}
	return binPath
}

func freePort(t *testing.T) int {
	p, err := chlocal.FreePort()
	testenv.Must(t, err, "free port")
	return p
}

// proc is a sightline process the test started, in its own process group
// so a kill takes its children too.
type proc struct {
	t    *testing.T
	name string
	cmd  *exec.Cmd
	done chan struct{}
}

func start(t *testing.T, dir, name string, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	logf, err := os.OpenFile(filepath.Join(dir, name+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	testenv.Must(t, err, "log file")
	cmd.Stdout, cmd.Stderr = logf, logf
	testenv.Must(t, cmd.Start(), "start "+name)
	p := &proc{t: t, name: name, cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); logf.Close(); close(p.done) }()
	t.Cleanup(p.stop)
	return p
}

// kill SIGKILLs the process group and waits.
func (p *proc) kill() {
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// stop asks the process to stop (SIGINT), then kills it.
func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.kill()
	}
}

// waitReady polls /readyz.
func waitReady(t *testing.T, httpAddr string, timeout time.Duration) {
	t.Helper()
	testenv.Eventually(t, timeout, "/readyz of "+httpAddr, func() (bool, string) {
		resp, err := http.Get("http://" + httpAddr + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, string(b)
	})
}

// metric sums a metric's samples on a /metrics endpoint (0 when absent).
func metric(httpAddr, name string) (float64, error) {
	m, err := metrics(httpAddr, name)
	return m[name], err
}

// metrics sums the samples of each named metric in one scrape.
func metrics(httpAddr string, names ...string) (map[string]float64, error) {
	resp, err := http.Get("http://" + httpAddr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		for _, name := range names {
			if !strings.HasPrefix(line, name) {
				continue
			}
			rest := line[len(name):]
			if rest != "" && rest[0] != ' ' && rest[0] != '{' {
				continue
			}
			f := strings.Fields(line)
			if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
				out[name] += v
			}
		}
	}
	return out, sc.Err()
}

// settle waits until, for every key and window, the signals counted
// exactly the events stored and want distinct events are stored, and
// returns the number of key-windows compared.
func settle(t *testing.T, conn driver.Conn, w windowing, from time.Time, want uint64, timeout time.Duration) int {
	t.Helper()
	var keyWindows int
	testenv.Eventually(t, timeout, "signals equal to events per key and window", func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		counts, err := chsink.ReconcileWindows(ctx, conn, uint32(w.window/time.Second), from.Add(-time.Hour), time.Now().Add(time.Hour))
		if err != nil {
			return false, err.Error()
		}
		var events, signals uint64
		var bad []string
		for _, c := range counts {
			events += c.Events
			signals += c.Signals
			if c.Signals != c.Events && len(bad) < 5 {
				bad = append(bad, fmt.Sprintf("%s/%s/%s/%s@%s: %d signals, %d events", c.Key.Tenant, c.Key.App, c.Key.Model, c.Key.Variant,
					c.WindowStart.Format("15:04:05"), c.Signals, c.Events))
			}
		}
		keyWindows = len(counts)
		return events == want && signals == want && len(bad) == 0,
			fmt.Sprintf("%d events stored, %d counted by signals, of %d sent; %d key-windows; differing: %v", events, signals, want, len(counts), bad)
	})
	var final uint64
	testenv.Must(t, conn.QueryRow(context.Background(), "SELECT count() FROM llm_events FINAL").Scan(&final), "count FINAL")
	if final != want {
		t.Fatalf("llm_events FINAL holds %d events, %d sent", final, want)
	}
	return keyWindows
}

// hooks is a webhook receiver counting alert notifications.
type hooks struct {
	srv *httptest.Server
	mu  sync.Mutex
	got map[string]int // alert id + "/" + state -> deliveries
}

func newHooks(t *testing.T) *hooks {
	h := &hooks{got: map[string]int{}}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n notify.Notification
		if err := json.NewDecoder(r.Body).Decode(&n); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		h.got[n.AlertID+"/"+n.State]++
		h.mu.Unlock()
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// check: at least one alert fired, and every alert id was notified at most
// once per state.
func (h *hooks) check(t *testing.T) (firing int) {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	for k, n := range h.got {
		if n > 1 {
			t.Errorf("alert %s notified %d times", k, n)
		}
		if strings.HasSuffix(k, "/firing") {
			firing++
		}
	}
	if firing == 0 {
		t.Errorf("no alert fired (deliveries: %v)", h.got)
	}
	return firing
}

func (h *hooks) yaml() string {
	return fmt.Sprintf(`alerts:
  actions:
    - {name: hook, type: webhook, url: %s, timeout: 2s}
  rules:
    - name: toxic-support
      signal: toxicity/rate
      match: {app: support-bot}
      operator: ">"
      threshold: 0.15
      for: 1
      min_samples: 20
      severity: critical
      actions: [hook]
`, h.srv.URL)
}

// chConn is a connection to the system's ClickHouse.
type chConn struct{ driver.Conn }

// reconnect opens a fresh connection (after the server was restarted).
func (c *chConn) reconnect(t *testing.T, port int) driver.Conn {
	t.Helper()
	var n driver.Conn
	// The restarted server may still be starting.
	testenv.Eventually(t, 2*time.Minute, "ClickHouse back", func() (bool, string) {
		var err error
		n, err = chsink.Open(context.Background(), chsink.Options{Addrs: []string{fmt.Sprintf("127.0.0.1:%d", port)}})
		if err != nil {
			return false, err.Error()
		}
		return true, ""
	})
	t.Cleanup(func() { n.Close() })
	return n
}
