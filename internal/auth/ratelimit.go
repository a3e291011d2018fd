package auth

import (
	"math"
	"sync"
	"time"
)

// limiter is a token bucket per key id. Only keys the keyring knows reach
// it, so it holds at most auth.max_keys buckets; buckets idle long enough
// to be full again are dropped when the map is swept.
type limiter struct {
	rate  float64 // tokens per second
	burst float64
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newLimiter(c RateLimitConfig, now func() time.Time) *limiter {
	if c.RequestsPerSecond <= 0 {
		return nil
	}
	return &limiter{rate: c.RequestsPerSecond, burst: float64(c.Burst), now: now, buckets: map[string]*bucket{}}
}

// allow takes a token for id, or says how long until one is there.
func (l *limiter) allow(id string) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > time.Minute {
		l.sweep(now)
	}
	b, ok := l.buckets[id]
	if !ok {
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[id] = b
	}
	b.tokens = math.Min(l.burst, b.tokens+now.Sub(b.at).Seconds()*l.rate)
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
	return false, wait
}

// sweep drops the buckets that have refilled (l.mu held).
func (l *limiter) sweep(now time.Time) {
	full := time.Duration(l.burst / l.rate * float64(time.Second))
	for id, b := range l.buckets {
		if now.Sub(b.at) > full {
			delete(l.buckets, id)
		}
	}
	l.swept = now
}
