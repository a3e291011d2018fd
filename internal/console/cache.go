package console

import (
	"container/list"
	"context"
	"sync"
	"time"
)

// cache shares read results between requests: a result is reused for ttl,
// concurrent requests for the same key wait for one read instead of each
// running it, and at most max results are kept (least recently used go
// first). It runs no goroutine of its own: the first requester reads.
type cache struct {
	ttl time.Duration
	max int
	now func() time.Time

	mu      sync.Mutex
	entries map[string]*entry
	lru     list.List // of *entry, most recent first; done entries only
}

type entry struct {
	key  string
	done chan struct{} // closed when val and err are set
	val  any
	err  error
	at   time.Time
	elem *list.Element // nil while in flight
}

func newCache(ttl time.Duration, max int, now func() time.Time) *cache {
	return &cache{ttl: ttl, max: max, now: now, entries: map[string]*entry{}}
}

// get returns the result for key, reading it with fetch unless a fresh
// one is kept or another request is reading it. hit says no read was
// made for this call. fetch gets a context of its own (bounded by
// timeout), so a reader whose client goes away does not fail the others
// waiting for the same read.
func (c *cache) get(ctx context.Context, key string, timeout time.Duration, fetch func(context.Context) (any, error)) (v any, hit bool, err error) {
	c.mu.Lock()
	if e, ok := c.entries[key]; ok {
		select {
		case <-e.done:
			if c.now().Sub(e.at) < c.ttl && e.err == nil {
				c.lru.MoveToFront(e.elem)
				c.mu.Unlock()
				return e.val, true, nil
			}
			c.remove(e)
		default:
			c.mu.Unlock()
			select {
			case <-e.done:
				return e.val, true, e.err
			case <-ctx.Done():
				return nil, false, ctx.Err()
			}
		}
	}
	e := &entry{key: key, done: make(chan struct{})}
	c.entries[key] = e
	c.mu.Unlock()

	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	v, err = fetch(fctx)
	cancel()

	c.mu.Lock()
	e.val, e.err, e.at = v, err, c.now()
	close(e.done)
	if err != nil {
		// Failures are not kept: the next request tries again.
		if c.entries[key] == e {
			delete(c.entries, key)
		}
	} else {
		e.elem = c.lru.PushFront(e)
		for c.lru.Len() > c.max {
			c.remove(c.lru.Back().Value.(*entry))
		}
	}
	c.mu.Unlock()
	return v, false, err
}

// remove drops a done entry; c.mu is held.
func (c *cache) remove(e *entry) {
	if c.entries[e.key] == e {
		delete(c.entries, e.key)
	}
	if e.elem != nil {
		c.lru.Remove(e.elem)
		e.elem = nil
	}
}

// size is the number of kept results (tests).
func (c *cache) size() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}
