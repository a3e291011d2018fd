package console

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Many tabs asking for the same view at once cost one read; the result
// is shared for the TTL, then read again.
func TestCacheSharesOneReadPerTTL(t *testing.T) {
	clk := &fakeClock{t: testNow}
	c := newCache(time.Second, 10, clk.now)
	var reads atomic.Int32
	release := make(chan struct{})
	fetch := func(context.Context) (any, error) {
		reads.Add(1)
		<-release
		return "result", nil
	}
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, _, err := c.get(context.Background(), "k", time.Second, fetch)
			if err != nil || v != "result" {
				t.Errorf("got %v %v", v, err)
			}
		}()
	}
	time.Sleep(50 * time.Millisecond) // let them queue behind the first read
	close(release)
	wg.Wait()
	if n := reads.Load(); n != 1 {
		t.Fatalf("50 concurrent requests made %d reads, want 1", n)
	}
	if _, hit, _ := c.get(context.Background(), "k", time.Second, fetch); !hit {
		t.Fatal("a fresh result was read again")
	}
	clk.add(time.Second)
	if _, hit, _ := c.get(context.Background(), "k", time.Second, fetch); hit || reads.Load() != 2 {
		t.Fatalf("an expired result was reused (reads %d)", reads.Load())
	}
}

func TestCacheKeepsNoErrorAndIsBounded(t *testing.T) {
	clk := &fakeClock{t: testNow}
	c := newCache(time.Minute, 3, clk.now)
	fails := 0
	_, _, err := c.get(context.Background(), "bad", time.Second, func(context.Context) (any, error) { fails++; return nil, errors.New("down") })
	_, _, err2 := c.get(context.Background(), "bad", time.Second, func(context.Context) (any, error) { fails++; return 1, nil })
	if err == nil || err2 != nil || fails != 2 {
		t.Fatalf("a failed read was kept: %v %v %d", err, err2, fails)
	}
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		c.get(context.Background(), k, time.Second, func(context.Context) (any, error) { return k, nil })
	}
	if n := c.size(); n != 3 {
		t.Fatalf("cache holds %d results, bound 3", n)
	}
	if _, hit, _ := c.get(context.Background(), "a", time.Second, func(context.Context) (any, error) { return "a", nil }); hit {
		t.Fatal("the least recently used result was not the one dropped")
	}
}

// A waiter whose client goes away stops waiting; the read goes on for
// the others and is kept.
func TestCacheWaiterCancels(t *testing.T) {
	c := newCache(time.Minute, 10, time.Now)
	started, release := make(chan struct{}), make(chan struct{})
	go c.get(context.Background(), "k", 5*time.Second, func(ctx context.Context) (any, error) {
		close(started)
		<-release
		return "v", ctx.Err()
	})
	<-started
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := c.get(ctx, "k", time.Second, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled waiter got %v", err)
	}
	close(release)
	time.Sleep(20 * time.Millisecond)
	if v, hit, err := c.get(context.Background(), "k", time.Second, nil); !hit || v != "v" || err != nil {
		t.Fatalf("the read was not kept: %v %v %v", v, hit, err)
	}
}
