package sdk_test

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sightline-dev/sightline/internal/testenv"
	"github.com/sightline-dev/sightline/sdk"
	"github.com/sightline-dev/sightline/sdk/sdktest"
)

// checkFinal fails the test unless every recorded call is accounted for in
// Stats, and the counters stay as they are once Close has returned.
func checkFinal(t *testing.T, c *sdk.Client, recorded int64) sdk.Stats {
	t.Helper()
	st := c.Stats()
	if st.Queued+st.Dropped != recorded {
		t.Fatalf("recorded %d != queued %d + dropped %d (%+v)", recorded, st.Queued, st.Dropped, st)
	}
	if done := st.Sent + st.Failed + st.SampledOut + st.EncodeErrors; st.Queued != done {
		t.Fatalf("queued %d != sent + failed + sampled out + encode errors = %d when Close returned (%+v)", st.Queued, done, st)
	}
	time.Sleep(200 * time.Millisecond)
	if later := c.Stats(); later != st {
		t.Fatalf("Stats changed after Close returned:\n%+v\n%+v", st, later)
	}
	return st
}

// slowLog stands for an OnError that logs: promises take a while to run,
// so counting them late would show.
func slowLog(error) { time.Sleep(50 * time.Microsecond) }

// silentBroker accepts connections and never answers: requests stay in
// flight until the client gives up.
func silentBroker(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	testenv.Must(t, err, "listen")
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			cn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, cn)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
		mu.Lock()
		for _, cn := range conns {
			cn.Close()
		}
		mu.Unlock()
	})
	return ln.Addr().String()
}

// Close against a broker that cannot take the events: whether the delivery
// timeout or Close's context ends first, every recorded call is counted
// (sent, dropped, failed or sampled out) by the time Close returns.
func TestCloseAccountsForEveryCallWhenUndeliverable(t *testing.T) {
	for _, tc := range []struct {
		name    string
		broker  func(*testing.T) string
		opts    []sdk.Opt
		closeIn time.Duration
	}{
		{"refused, Close's context ends first", func(*testing.T) string { return "127.0.0.1:1" }, nil, 300 * time.Millisecond},
		{"refused, delivery timeout ends first", func(*testing.T) string { return "127.0.0.1:1" },
			[]sdk.Opt{sdk.DeliveryTimeout(time.Second)}, 20 * time.Second},
		{"silent, Close's context ends first", silentBroker, []sdk.Opt{sdk.SampleRate(0.5)}, 300 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, []string{tc.broker(t)}, append([]sdk.Opt{sdk.QueueSize(256), sdk.OnError(slowLog)}, tc.opts...)...)
			const n = 2000
			call := sdk.Call{Model: "m", Prompt: []sdk.Message{{Role: "user", Content: "x"}}}
			for i := 0; i < n; i++ {
				c.Record(&call)
			}
			ctx, cancel := context.WithTimeout(context.Background(), tc.closeIn)
			defer cancel()
			start := time.Now()
			err := c.Close(ctx)
			if took := time.Since(start); took > tc.closeIn+2*time.Second {
				t.Errorf("Close took %s with a %s context", took, tc.closeIn)
			}
			if err == nil {
				t.Error("Close reported no error although nothing was delivered")
			}
			st := checkFinal(t, c, n)
			if st.Sent != 0 || st.Failed == 0 {
				t.Fatalf("want everything that was queued failed, got %+v", st)
			}
		})
	}
}

// A broker that stops while events are in flight: what it acknowledged is
// counted sent (and is in its log), everything else failed, by the time
// Close returns.
func TestCloseAccountsForEveryCallWhenBrokerStops(t *testing.T) {
	dir := t.TempDir()
	b := testenv.Broker(t, dir)
	c := newClient(t, b.Addrs(), sdk.QueueSize(512), sdk.OnError(slowLog))
	var recorded atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		call := sdk.Call{Model: "m", Prompt: []sdk.Message{{Role: "user", Content: "x"}}}
		for {
			select {
			case <-stop:
				return
			default:
			}
			c.Record(&call)
			recorded.Add(1)
			time.Sleep(50 * time.Microsecond)
		}
	}()
	testenv.Eventually(t, 10*time.Second, "events acknowledged", func() (bool, string) {
		st := c.Stats()
		return st.Sent >= 200, testenv.Sprintf("%+v", st)
	})
	b.Close()
	time.Sleep(300 * time.Millisecond)
	close(stop)
	<-done
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := c.Close(ctx); err == nil {
		t.Error("Close reported no error although the broker was gone")
	}
	st := checkFinal(t, c, recorded.Load())
	if st.Failed == 0 {
		t.Fatalf("calls recorded after the broker stopped were not counted failed: %+v", st)
	}
	// Every acknowledged event is in the broker's log.
	b2 := testenv.Broker(t, dir)
	sdktest.ReadEvents(t, b2.Addrs(), "sightline.events", int(st.Sent), 10*time.Second)
}
