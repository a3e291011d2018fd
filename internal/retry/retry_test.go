package retry

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestDoRetriesUntilSuccess(t *testing.T) {
	calls, retries := 0, 0
	err := Do(context.Background(), Policy{Min: time.Millisecond, Max: 4 * time.Millisecond}, func(context.Context) error {
		if calls++; calls < 4 {
			return errors.New("not yet")
		}
		return nil
	}, func(int, error) { retries++ })
	if err != nil || calls != 4 || retries != 3 {
		t.Fatalf("err %v, %d calls, %d retries", err, calls, retries)
	}
}

func TestDoStopsWithTheContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := Do(ctx, Policy{Min: 10 * time.Millisecond, Max: 20 * time.Millisecond}, func(context.Context) error { return errors.New("down") }, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want the context's error", err)
	}
}

// Backoff doubles from base to max with equal jitter: after attempt n the
// delay is in [d/2, d] for d = min(base*2^(n-1), max).
func TestBackoffBounds(t *testing.T) {
	for n := 1; n <= 12; n++ {
		full := min(100*time.Millisecond<<(n-1), 2*time.Second)
		lo, hi := full, time.Duration(0)
		for range 200 {
			d := Backoff(100*time.Millisecond, 2*time.Second, n)
			if d < full/2 || d > full {
				t.Fatalf("attempt %d: %s not in [%s, %s]", n, d, full/2, full)
			}
			lo, hi = min(lo, d), max(hi, d)
		}
		if hi-lo < full/4 {
			t.Fatalf("attempt %d: delays in [%s, %s] are not spread (no jitter?)", n, lo, hi)
		}
	}
}

func TestSleepStopsWithTheContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
}
