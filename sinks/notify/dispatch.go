package notify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"sync"
	"time"

	"github.com/sightline-dev/sightline/internal/redact"
	"github.com/sightline-dev/sightline/internal/retry"
)

// Attempt outcomes.
const (
	OutcomeOK      = "ok"      // the receiver accepted it
	OutcomeRetry   = "retry"   // failed; another attempt follows
	OutcomeFailed  = "failed"  // failed for good (permanent error or attempts exhausted)
	OutcomeDropped = "dropped" // never attempted: the queue was full or the dispatcher closed
	OutcomeSkipped = "skipped" // not sent by policy (resolved or repeat not wanted)
)

// ErrQueueFull is reported (as a dropped attempt) when the queue has no room.
var ErrQueueFull = errors.New("alert action queue is full: raise alerts.queue_size or alerts.workers, or fix the failing receiver")

// Task is one notification for one action.
type Task struct {
	// Action and Type are the configured name and type of the action.
	Action, Type string
	Target       Action
	Policy       Policy
	Notification Notification
}

// Attempt is the result of one delivery attempt of a Task (or of its drop).
type Attempt struct {
	Task     *Task
	Attempt  int // 1-based; 0 for dropped
	Outcome  string
	Result   Outcome
	Err      error
	Duration time.Duration
	At       time.Time
}

// DispatcherConfig bounds the dispatcher.
type DispatcherConfig struct {
	// Workers run actions concurrently (default 4).
	Workers int
	// QueueSize is how many tasks wait for a worker (default 1000); a full
	// queue drops new tasks.
	QueueSize int
	// Record is called for every attempt and drop, from worker goroutines
	// (or TryEnqueue's for drops); it must be safe for concurrent use and
	// should not block for long.
	Record func(Attempt)
}

// Dispatcher runs tasks on a bounded pool with retries.
type Dispatcher struct {
	cfg    DispatcherConfig
	queue  chan *Task
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.RWMutex
	closed bool
}

// NewDispatcher starts the workers.
func NewDispatcher(cfg DispatcherConfig) *Dispatcher {
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 1000
	}
	if cfg.Record == nil {
		cfg.Record = func(Attempt) {}
	}
	d := &Dispatcher{cfg: cfg, queue: make(chan *Task, cfg.QueueSize)}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	for range cfg.Workers {
		d.wg.Add(1)
		go d.work()
	}
	return d
}

// TryEnqueue queues t without waiting. It returns false, and records a
// dropped attempt, when the queue is full or the dispatcher is closed.
func (d *Dispatcher) TryEnqueue(t *Task) bool {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if !d.closed {
		select {
		case d.queue <- t:
			return true
		default:
		}
	}
	err := ErrQueueFull
	if d.closed {
		err = errors.New("alert action dispatcher is closed")
	}
	d.cfg.Record(Attempt{Task: t, Outcome: OutcomeDropped, Err: err, At: time.Now()})
	return false
}

// Len is the number of queued tasks.
func (d *Dispatcher) Len() int { return len(d.queue) }

// Close stops accepting tasks and waits for the queued ones to finish.
// When ctx ends first, in-flight attempts are cancelled, the rest of the
// queue is recorded as dropped, and ctx's error is returned.
func (d *Dispatcher) Close(ctx context.Context) error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	close(d.queue)
	d.mu.Unlock()
	done := make(chan struct{})
	go func() { d.wg.Wait(); close(done) }()
	select {
	case <-done:
		d.cancel()
		return nil
	case <-ctx.Done():
		d.cancel()
		<-done
		return ctx.Err()
	}
}

func (d *Dispatcher) work() {
	defer d.wg.Done()
	for t := range d.queue {
		if d.ctx.Err() != nil {
			d.cfg.Record(Attempt{Task: t, Outcome: OutcomeDropped, Err: errors.New("dispatcher closed before the attempt"), At: time.Now()})
			continue
		}
		d.run(t)
	}
}

// run makes up to MaxAttempts attempts of t.
func (d *Dispatcher) run(t *Task) {
	p := t.Policy
	for attempt := 1; ; attempt++ {
		start := time.Now()
		ctx, cancel := context.WithTimeout(d.ctx, p.Timeout)
		res, err := t.Target.Notify(ctx, t.Notification)
		cancel()
		// The built-in actions redact at the source; this covers any other
		// Action, since what Record gets is stored and logged.
		res.Body = redact.String(res.Body)
		a := Attempt{Task: t, Attempt: attempt, Result: res, Err: redact.Error(err), Duration: time.Since(start), At: start}
		switch {
		case err == nil:
			a.Outcome = OutcomeOK
		case IsPermanent(err) || attempt >= p.MaxAttempts || d.ctx.Err() != nil:
			a.Outcome = OutcomeFailed
		default:
			a.Outcome = OutcomeRetry
		}
		d.cfg.Record(a)
		if a.Outcome != OutcomeRetry {
			return
		}
		timer := time.NewTimer(retry.Backoff(p.Backoff, p.MaxBackoff, attempt))
		select {
		case <-timer.C:
		case <-d.ctx.Done():
			timer.Stop()
		}
	}
}

// IdempotencyKey is the key of one incident or series episode (alertID) for one
// action: the same for every attempt and re-notification.
func IdempotencyKey(alertID, action string) string {
	h := sha256.Sum256([]byte(alertID + "\x00" + action))
	return "sl-" + hex.EncodeToString(h[:16])
}
