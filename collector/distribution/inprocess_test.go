package distribution

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sightline-dev/sightline/internal/broker"
	"github.com/sightline-dev/sightline/schemas"
)

// TestStartInProcess runs the distribution the way `sightline up --otlp`
// does: OTLP/HTTP in, the event on the broker, the exporter's counters on
// the metrics address, and a clean stop that frees the ports (a second
// start on the same addresses works).
func TestStartInProcess(t *testing.T) {
	b := startBroker(t)
	o := Options{
		Brokers:     b.Addrs(),
		GRPCAddr:    "127.0.0.1:" + strconv.Itoa(freePort(t)),
		HTTPAddr:    "127.0.0.1:" + strconv.Itoa(freePort(t)),
		MetricsAddr: "127.0.0.1:" + strconv.Itoa(freePort(t)),
		Tenant:      "acme",
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	body, err := os.ReadFile(filepath.Join("..", "sightlineexporter", "testdata", "traces", "genai_current.json"))
	must(t, err, "read spans")

	for round := 0; round < 2; round++ {
		r, err := Start(ctx, o)
		must(t, err, "start")
		resp, err := http.Post("http://"+o.HTTPAddr+"/v1/traces", "application/json", bytes.NewReader(body))
		must(t, err, "post spans")
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("OTLP/HTTP answered %s", resp.Status)
		}
		if round == 0 {
			// The exporter's counters under the names the README gives.
			eventually(t, 20*time.Second, "produced counter", func() (bool, string) {
				resp, err := http.Get("http://" + o.MetricsAddr + "/metrics")
				if err != nil {
					return false, err.Error()
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				return strings.Contains(string(b), "\nsightline_collector_events_produced 1\n"), "no produced counter yet"
			})
		}
		// The batch processor holds spans up to a second; shutting down
		// must flush them rather than drop them.
		must(t, r.Shutdown(), "shutdown")
		select {
		case <-r.Done():
		default:
			t.Fatal("Done not closed after Shutdown")
		}
	}

	kcl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...), kgo.ConsumeTopics(broker.TopicEvents),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	must(t, err, "consumer")
	defer kcl.Close()
	var n int
	for n < 2 {
		pctx, pcancel := context.WithTimeout(ctx, 20*time.Second)
		fetches := kcl.PollRecords(pctx, 10)
		timedOut := pctx.Err() != nil
		pcancel()
		if timedOut {
			t.Fatalf("%d events on %s, want 2", n, broker.TopicEvents)
		}
		for _, rec := range fetches.Records() {
			ev, err := schemas.Decode(rec.Value)
			must(t, err, "decode event")
			if ev.App != "support-bot" || ev.Tenant != "acme" || ev.Model != "gpt-4o-mini-2024-07-18" {
				t.Errorf("unexpected event: %v", ev)
			}
			n++
		}
	}
}

func TestStartErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := Start(ctx, Options{}); err == nil || !strings.Contains(err.Error(), "no Kafka brokers") {
		t.Errorf("no brokers: %v", err)
	}
	// A listen address in use is reported with the addresses to check.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err, "listen")
	defer l.Close()
	b := startBroker(t)
	_, err = Start(ctx, Options{Brokers: b.Addrs(), HTTPAddr: l.Addr().String(),
		GRPCAddr: "127.0.0.1:" + strconv.Itoa(freePort(t)), MetricsAddr: "127.0.0.1:" + strconv.Itoa(freePort(t))})
	if err == nil || !strings.Contains(err.Error(), l.Addr().String()) {
		t.Errorf("address in use: %v", err)
	}
	if _, err := Start(ctx, Options{Brokers: b.Addrs(), MetricsAddr: "nope"}); err == nil {
		t.Error("bad metrics address accepted")
	}
}
