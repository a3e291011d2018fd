package app

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Readiness probing: how often each dependency is pinged and for how long.
const (
	defaultProbeInterval = time.Second
	defaultProbeTimeout  = 2 * time.Second
)

// probes ping dependencies in the background, one goroutine per check, so
// a readiness check only reads the last result: /readyz answers at once
// whatever the dependencies do (a stalled ClickHouse holds a ping for the
// whole timeout, longer than an orchestrator's probe waits).
type probes struct {
	interval, timeout time.Duration
	// maxAge: a result older than this counts as not ready, so a ping
	// stuck past its timeout cannot leave a stale "ready" behind.
	maxAge time.Duration
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type probeResult struct {
	ok bool
	at time.Time
}

func newProbes(interval, timeout time.Duration) *probes {
	ctx, cancel := context.WithCancel(context.Background())
	return &probes{interval: interval, timeout: timeout, maxAge: 3*interval + timeout, ctx: ctx, cancel: cancel}
}

// add starts pinging with ping (first at once, then every interval) and
// returns the check: ready when the last ping succeeded and is recent.
// Not ready until the first ping returns.
func (p *probes) add(ping func(context.Context) error) func() bool {
	var last atomic.Pointer[probeResult]
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(p.interval)
		defer t.Stop()
		for {
			ctx, cancel := context.WithTimeout(p.ctx, p.timeout)
			err := ping(ctx)
			cancel()
			last.Store(&probeResult{ok: err == nil, at: time.Now()})
			select {
			case <-p.ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() bool {
		r := last.Load()
		return r != nil && r.ok && time.Since(r.at) < p.maxAge
	}
}

// Close stops the pinging (cancelling pings under way) and waits for it.
func (p *probes) Close() {
	p.cancel()
	p.wg.Wait()
}
