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
