package server

import (
	"container/list"
	"context"
	"sync"
)

// byteBudget is a first-come-first-served weighted semaphore over bytes:
// an ingest request reserves its body's size before reading it and gives
// the bytes back as its events are rejected or acknowledged by the broker.
// First come first served so a large body is not starved by small ones.
type byteBudget struct {
	mu      sync.Mutex
	size    int64
	used    int64
	waiters list.List // of *budgetWaiter, oldest first
}

type budgetWaiter struct {
	n     int64
	ready chan struct{} // closed once the bytes are granted
}

// acquire takes n bytes (at most size), waiting until they are free or
// ctx is done.
func (b *byteBudget) acquire(ctx context.Context, n int64) error {
	b.mu.Lock()
	if b.used+n <= b.size && b.waiters.Len() == 0 {
		b.used += n
		b.mu.Unlock()
		return nil
	}
	w := &budgetWaiter{n: n, ready: make(chan struct{})}
	el := b.waiters.PushBack(w)
	b.mu.Unlock()
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
		b.mu.Lock()
		defer b.mu.Unlock()
		select {
		case <-w.ready:
			// Granted while giving up: keep the bytes, the caller
			// gives them back like any others.
			return nil
		default:
		}
		head := b.waiters.Front() == el
		b.waiters.Remove(el)
		if head {
			// A large head may have held back smaller waiters.
			b.grant()
		}
		return context.Cause(ctx)
	}
}

// release gives n bytes back.
func (b *byteBudget) release(n int64) {
	if n <= 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	b.grant()
	b.mu.Unlock()
}

// grant hands free bytes to the waiters in order. b.mu is held.
func (b *byteBudget) grant() {
	for e := b.waiters.Front(); e != nil; e = b.waiters.Front() {
		w := e.Value.(*budgetWaiter)
		if b.used+w.n > b.size {
			return
		}
		b.used += w.n
		b.waiters.Remove(e)
		close(w.ready)
	}
}

func (b *byteBudget) inUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}
