package server

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestByteBudget(t *testing.T) {
	ctx := context.Background()
	b := &byteBudget{size: 10}
	if err := b.acquire(ctx, 8); err != nil {
		t.Fatal(err)
	}

	// First come first served: 1 byte would fit, but a request for 5
	// came first.
	big := make(chan error, 1)
	go func() { big <- b.acquire(ctx, 5) }()
	waitQueued(t, b, 1)
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := b.acquire(short, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("1 byte behind a waiting 5: %v, want the deadline", err)
	}
	b.release(8)
	if err := <-big; err != nil || b.inUse() != 5 {
		t.Fatalf("after the release: %v, %d in use", err, b.inUse())
	}

	// A waiter at the head that gives up lets the smaller ones behind
	// it in.
	headCtx, giveUp := context.WithCancel(ctx)
	head := make(chan error, 1)
	go func() { head <- b.acquire(headCtx, 6) }()
	waitQueued(t, b, 1)
	small := make(chan error, 1)
	go func() { small <- b.acquire(ctx, 4) }()
	waitQueued(t, b, 2)
	giveUp()
	if err := <-head; !errors.Is(err, context.Canceled) {
		t.Fatalf("head gave up: %v", err)
	}
	if err := <-small; err != nil || b.inUse() != 9 {
		t.Fatalf("behind the head: %v, %d in use", err, b.inUse())
	}
	b.release(9)
	if b.inUse() != 0 || b.waiters.Len() != 0 {
		t.Fatalf("%d in use, %d waiting at the end", b.inUse(), b.waiters.Len())
	}
}

func waitQueued(t *testing.T, b *byteBudget, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		b.mu.Lock()
		got := b.waiters.Len()
		b.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d waiting, want %d", got, n)
		}
	}
}
