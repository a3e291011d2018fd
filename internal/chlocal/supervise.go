package chlocal

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// RestartPolicy says how a Supervisor restarts a server that died. Zero
// fields take the defaults of DefaultRestartPolicy.
type RestartPolicy struct {
	// MinBackoff is the wait before the first restart after a crash
	// (default 1s).
	MinBackoff time.Duration
	// MaxBackoff caps the wait, which doubles with each failure in a row
	// (default 30s). A server that ran for Window before it died starts
	// again from MinBackoff.
	MaxBackoff time.Duration
	// MaxFailures exits or failed starts within Window make the supervisor
	// give up (default 5 within 1m): a server that keeps crashing right
	// after start has a problem a restart does not fix (a full disk, a
	// broken part, a bad config), and the operator must read its log.
	MaxFailures int
	Window      time.Duration
}

// DefaultRestartPolicy is the policy `sightline up` runs with: restarts
// after 1s, 2s, 4s, ... up to 30s; five failures within a minute end it.
func DefaultRestartPolicy() RestartPolicy {
	return RestartPolicy{MinBackoff: time.Second, MaxBackoff: 30 * time.Second, MaxFailures: 5, Window: time.Minute}
}

func (p RestartPolicy) withDefaults() RestartPolicy {
	d := DefaultRestartPolicy()
	if p.MinBackoff <= 0 {
		p.MinBackoff = d.MinBackoff
	}
	if p.MaxBackoff <= 0 {
		p.MaxBackoff = d.MaxBackoff
	}
	p.MaxBackoff = max(p.MaxBackoff, p.MinBackoff)
	if p.MaxFailures <= 0 {
		p.MaxFailures = d.MaxFailures
	}
	if p.Window <= 0 {
		p.Window = d.Window
	}
	return p
}

// Supervisor keeps a local server running: when the process dies it is
// started again on the same ports and directory, with exponential backoff.
// Clients keep their address; while the server is down their queries fail
// and a connection pool reconnects once it is back.
type Supervisor struct {
	cfg    Config
	policy RestartPolicy
	log    *slog.Logger

	restarts prometheus.Counter
	up       prometheus.Gauge

	ctx    context.Context // cancelled by Close: interrupts a start under way
	cancel context.CancelFunc
	done   chan struct{} // closed when the supervising goroutine returns
	err    error         // why it gave up; read after done

	mu  sync.Mutex
	cur *Server // nil while the server is down
}

// Supervise starts the server (as Start does, failing if the first start
// fails) and a goroutine that restarts it whenever it dies, until Close or
// until the policy gives up (then Done is closed and Err says why). log may
// be nil; reg, if not nil, gets sightline_local_clickhouse_restarts_total
// and sightline_local_clickhouse_up.
func Supervise(ctx context.Context, cfg Config, policy RestartPolicy, log *slog.Logger, reg prometheus.Registerer) (*Supervisor, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Supervisor{
		policy: policy.withDefaults(),
		log:    log,
		restarts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sightline_local_clickhouse_restarts_total",
			Help: "Times the managed local clickhouse-server was started again after it died.",
		}),
		up: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sightline_local_clickhouse_up",
			Help: "1 while the managed local clickhouse-server process is running and answered after its start, else 0.",
		}),
		done: make(chan struct{}),
	}
	if reg != nil {
		if err := reg.Register(s.restarts); err != nil {
			return nil, fmt.Errorf("cannot register local clickhouse metrics: %w", err)
		}
		if err := reg.Register(s.up); err != nil {
			return nil, fmt.Errorf("cannot register local clickhouse metrics: %w", err)
		}
	}
	srv, err := Start(ctx, cfg)
	if err != nil {
		return nil, err
	}
	// Restarts reuse the resolved directory and the ports picked now, so
	// clients' addresses stay valid.
	s.cfg = srv.cfg
	s.cur = srv
	s.up.Set(1)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	go s.run(srv)
	return s, nil
}

// Addr is the native protocol address (host:port); it does not change
// across restarts.
func (s *Supervisor) Addr() string { return (&Server{cfg: s.cfg}).Addr() }

// HTTPAddr is the HTTP interface address.
func (s *Supervisor) HTTPAddr() string { return (&Server{cfg: s.cfg}).HTTPAddr() }

// ErrorLog is the server's error log.
func (s *Supervisor) ErrorLog() string { return errorLog(s.cfg.Dir) }

// Running reports whether a server process is up (it may still be busy
// or stalled: readiness checks ping it).
func (s *Supervisor) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur != nil
}

// Pid is the running server's process id, 0 while it is down.
func (s *Supervisor) Pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == nil {
		return 0
	}
	return s.cur.cmd.Process.Pid
}

// Done is closed when the supervisor stops: after Close, or when it gave
// up (then Err is not nil).
func (s *Supervisor) Done() <-chan struct{} { return s.done }

// Err is why the supervisor gave up, nil while it runs and after Close.
// Call it after Done is closed.
func (s *Supervisor) Err() error {
	select {
	case <-s.done:
		return s.err
	default:
		return nil
	}
}

// Close stops restarting, stops the server and waits for both.
func (s *Supervisor) Close() error {
	s.cancel()
	<-s.done
	return nil
}

func (s *Supervisor) setCurrent(srv *Server) {
	s.mu.Lock()
	s.cur = srv
	s.mu.Unlock()
	if srv == nil {
		s.up.Set(0)
	} else {
		s.up.Set(1)
	}
}

// run owns the server process from the first start on.
func (s *Supervisor) run(srv *Server) {
	defer close(s.done)
	var failures []time.Time
	backoff := s.policy.MinBackoff
	started := time.Now()
	// failed records a failure and reports whether the policy gives up.
	failed := func(err error) bool {
		now := time.Now()
		kept := failures[:0]
		for _, t := range failures {
			if now.Sub(t) < s.policy.Window {
				kept = append(kept, t)
			}
		}
		failures = append(kept, now)
		if len(failures) < s.policy.MaxFailures {
			return false
		}
		s.err = fmt.Errorf("local clickhouse failed %d times within %s, giving up (last: %v); see %s",
			len(failures), s.policy.Window, err, s.ErrorLog())
		s.log.Error("local clickhouse keeps failing; not restarting it again", "failures", len(failures),
			"window", s.policy.Window, "err", err, "log", s.ErrorLog())
		return true
	}
	for {
		select {
		case <-s.ctx.Done():
			srv.Close()
			s.setCurrent(nil)
			return
		case <-srv.Done():
		}
		s.setCurrent(nil)
		exitErr := fmt.Errorf("exited: %v", srv.err)
		if time.Since(started) >= s.policy.Window {
			backoff = s.policy.MinBackoff // it ran well before: a fresh incident
		}
		if failed(exitErr) {
			return
		}
		for {
			s.log.Warn("local clickhouse is down; restarting it", "err", exitErr, "in", backoff, "log", s.ErrorLog())
			t := time.NewTimer(backoff)
			select {
			case <-s.ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			backoff = min(2*backoff, s.policy.MaxBackoff)
			var err error
			if srv, err = Start(s.ctx, s.cfg); err == nil {
				break
			}
			if s.ctx.Err() != nil {
				return
			}
			if failed(err) {
				return
			}
			exitErr = err
		}
		started = time.Now()
		s.restarts.Inc()
		s.setCurrent(srv)
		s.log.Info("local clickhouse restarted", "addr", s.Addr(), "pid", srv.cmd.Process.Pid)
	}
}
