// Package retry retries an operation that must not be skipped (a
// ClickHouse insert, a transactional produce) until it succeeds or its
// context ends, with exponential backoff and full jitter.
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
// Sleeps are uniform in [b/2, 3b/2) for a backoff b that doubles from Min
// up to Max, so many callers do not retry in step.
func Do(ctx context.Context, p Policy, fn func(context.Context) error, onRetry func(attempt int, err error)) error {
	if p.AttemptTimeout == 0 {
		p.AttemptTimeout = 30 * time.Second
	}
	backoff := max(p.Min, time.Millisecond)
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
		sleep := time.Duration(rand.Int64N(int64(backoff))) + backoff/2
		t := time.NewTimer(sleep)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		if backoff *= 2; backoff > p.Max {
			backoff = max(p.Max, time.Millisecond)
		}
	}
}
