// Package retry is the one backoff of the project: Do retries an operation
// that must not be skipped (a ClickHouse insert, a transactional produce)
// until it succeeds or its context ends; Backoff and Sleep serve callers
// with their own loop (notifiers, the judge, the OTLP sender). The jitter
// rule is "equal jitter" everywhere: a delay d becomes uniform in [d/2, d],
// so many callers recovering from one outage do not retry in step, and
// none waits longer than the cap.
package retry

import (
	"context"
	"math/rand/v2"
	"time"
)

// Policy bounds the backoff and each attempt.
type Policy struct {
	Min, Max time.Duration // backoff bounds
	// AttemptTimeout bounds one attempt (default 30s).
	AttemptTimeout time.Duration
}

// Do calls fn until it returns nil or ctx ends (then it returns ctx's
// error). onRetry, if set, is called after each failed attempt (0-based).
// The sleep after failed attempt n is Backoff(Min, Max, n+1).
func Do(ctx context.Context, p Policy, fn func(context.Context) error, onRetry func(attempt int, err error)) error {
	if p.AttemptTimeout == 0 {
		p.AttemptTimeout = 30 * time.Second
	}
	for attempt := 0; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, p.AttemptTimeout)
		err := fn(actx)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if onRetry != nil {
			onRetry(attempt, err)
		}
		if err := Sleep(ctx, Backoff(max(p.Min, time.Millisecond), p.Max, attempt+1)); err != nil {
			return err
		}
	}
}

// Backoff is the delay after failed attempt n (1-based): d = base·2^(n-1)
// capped at max, with equal jitter (uniform in [d/2, d]).
func Backoff(base, max time.Duration, n int) time.Duration {
	d := base
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	if d <= 1 {
		return d
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

// Sleep waits d or until ctx ends (then it returns ctx's error).
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
