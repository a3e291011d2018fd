package alert

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sightline-dev/sightline/internal/redact"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

// recorder writes action attempts to llm_alerts and llm_jobs in batches,
// off the workers' path: a bounded buffer flushed every flushEvery or when
// it holds flushAt rows; when full, records are dropped and counted
// (sightline_alert_store_errors_total).
type recorder struct {
	conn driver.Conn
	m    *metrics
	log  *slog.Logger
	in   chan recItem
	done chan struct{}

	mu     sync.RWMutex
	closed bool
}

type recItem struct {
	alert chsink.AlertRow
	job   *chsink.JobRow
}

const (
	recBuffer  = 4096
	flushAt    = 256
	flushEvery = 100 * time.Millisecond
)

func newRecorder(conn driver.Conn, m *metrics, log *slog.Logger) *recorder {
	r := &recorder{conn: conn, m: m, log: log, in: make(chan recItem, recBuffer), done: make(chan struct{})}
	go r.run()
	return r
}

// add queues a row of llm_alerts (when job is nil) or llm_jobs.
func (r *recorder) add(a chsink.AlertRow, job *chsink.JobRow) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed {
		r.m.store.Inc()
		return
	}
	select {
	case r.in <- recItem{alert: a, job: job}:
	default:
		r.m.store.Inc()
	}
}

func (r *recorder) close() {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		close(r.in)
	}
	r.mu.Unlock()
	<-r.done
}

func (r *recorder) run() {
	defer close(r.done)
	var alerts []chsink.AlertRow
	var jobs []chsink.JobRow
	flush := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := chsink.Alerts.Insert(ctx, r.conn, alerts); err != nil {
			r.m.store.Inc()
			r.log.Error("cannot record alert action attempts", "rows", len(alerts), "err", redact.Error(err))
		}
		if err := chsink.Jobs.Insert(ctx, r.conn, jobs); err != nil {
			r.m.store.Inc()
			r.log.Error("cannot record job requests", "rows", len(jobs), "err", redact.Error(err))
		}
		alerts, jobs = alerts[:0], jobs[:0]
	}
	tick := time.NewTicker(flushEvery)
	defer tick.Stop()
	for {
		select {
		case it, ok := <-r.in:
			if !ok {
				flush()
				return
			}
			if it.job != nil {
				jobs = append(jobs, *it.job)
			} else {
				alerts = append(alerts, it.alert)
			}
			if len(alerts)+len(jobs) >= flushAt {
				flush()
			}
		case <-tick.C:
			if len(alerts)+len(jobs) > 0 {
				flush()
			}
		}
	}
}

// seqClock orders rows written by this process (ts has second
// resolution): nanoseconds since the epoch, strictly increasing.
var seqClock atomic.Uint64

func nextSeq() uint64 {
	now := uint64(time.Now().UnixNano())
	for {
		last := seqClock.Load()
		next := max(now, last+1)
		if seqClock.CompareAndSwap(last, next) {
			return next
		}
	}
}
