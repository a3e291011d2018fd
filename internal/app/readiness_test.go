package app

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// A check answers from the last background ping at once, whatever the
// dependency does: up, failing, stalled until the ping's timeout, or
// stuck past it.
func TestProbesAnswerFromTheLastPing(t *testing.T) {
	const interval, timeout = 20 * time.Millisecond, 100 * time.Millisecond
	p := newProbes(interval, timeout)
	var mode atomic.Value // "up", "down", "stall" (honours ctx), "stuck" (does not)
	mode.Store("up")
	release := make(chan struct{})
	ready := p.add(func(ctx context.Context) error {
		switch mode.Load() {
		case "down":
			return errors.New("connection refused")
		case "stall":
			<-ctx.Done()
			return ctx.Err()
		case "stuck":
			<-release
			return nil
		}
		return nil
	})
	// until polls ready for up to a second, each call timed.
	until := func(want bool, what string) {
		t.Helper()
		deadline := time.Now().Add(time.Second)
		for {
			start := time.Now()
			got := ready()
			// Far below the ping timeout a synchronous check would wait.
			if d := time.Since(start); d > timeout/2 {
				t.Fatalf("%s: a check took %s", what, d)
			}
			if got == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: still ready=%v after a second", what, got)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	until(true, "up")
	mode.Store("down")
	until(false, "down")
	mode.Store("up")
	until(true, "back up")
	mode.Store("stall")
	until(false, "stalled")
	mode.Store("up")
	until(true, "after the stall")
	// A ping that never returns leaves a "ready" result that ages out.
	mode.Store("stuck")
	until(true, "stuck, result still fresh")
	time.Sleep(p.maxAge)
	until(false, "stuck past the result's age")
	close(release)
	done := make(chan struct{})
	go func() { p.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatal("Close did not stop the probe goroutines")
	}
}

// Close cancels a ping under way rather than waiting out its timeout.
func TestProbesCloseCancelsAPing(t *testing.T) {
	p := newProbes(time.Second, time.Hour)
	started := make(chan struct{})
	p.add(func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		return ctx.Err()
	})
	<-started
	done := make(chan struct{})
	go func() { p.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatal("Close waited for the ping's timeout")
	}
}
