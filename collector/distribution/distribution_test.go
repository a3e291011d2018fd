package distribution

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/collector/otelcol"
	"go.opentelemetry.io/collector/service/telemetry/otelconftelemetry"

	"github.com/sightline-dev/sightline/internal/broker"
	"github.com/sightline-dev/sightline/schemas"
)

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestDefaultConfig starts the distribution with its embedded default
// configuration (addresses moved to free ports through the environment
// variables it documents), sends an OTLP/HTTP GenAI span, finds the event
// on the in-process broker and shuts the collector down.
func TestDefaultConfig(t *testing.T) {
	b := startBroker(t)
	httpAddr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	metricsPort := freePort(t)
	t.Setenv("SIGHTLINE_OTLP_GRPC_ENDPOINT", "127.0.0.1:"+strconv.Itoa(freePort(t)))
	t.Setenv("SIGHTLINE_OTLP_HTTP_ENDPOINT", httpAddr)
	t.Setenv("SIGHTLINE_COLLECTOR_METRICS_PORT", strconv.Itoa(metricsPort))
	t.Setenv("SIGHTLINE_KAFKA_BROKERS", b.Addrs()[0])

	col, err := otelcol.NewCollector(Settings())
	must(t, err, "create collector")
	done := make(chan error, 1)
	go func() { done <- col.Run(context.Background()) }()
	stopped := false
	defer func() {
		if !stopped {
			col.Shutdown()
			<-done
		}
	}()
	eventually(t, 30*time.Second, "collector running", func() (bool, string) {
		select {
		case err := <-done:
			stopped = true
			t.Fatalf("collector stopped: %v", err)
		default:
		}
		return col.GetState() == otelcol.StateRunning, col.GetState().String()
	})

	// The collector's own metrics are on the configured port, not 8888.
	eventually(t, 10*time.Second, "metrics endpoint", func() (bool, string) {
		resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(metricsPort) + "/metrics")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})

	body, err := os.ReadFile(filepath.Join("..", "sightlineexporter", "testdata", "traces", "genai_current.json"))
	must(t, err, "read spans")
	resp, err := http.Post("http://"+httpAddr+"/v1/traces", "application/json", bytes.NewReader(body))
	must(t, err, "post spans")
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("OTLP/HTTP answered %s", resp.Status)
	}

	kcl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...), kgo.ConsumeTopics(broker.TopicEvents),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	must(t, err, "consumer")
	defer kcl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	fetches := kcl.PollRecords(ctx, 10)
	if err := ctx.Err(); err != nil {
		t.Fatalf("no event on %s: %v", broker.TopicEvents, err)
	}
	recs := fetches.Records()
	if len(recs) != 1 {
		t.Fatalf("%d records, want 1", len(recs))
	}
	ev, err := schemas.Decode(recs[0].Value)
	must(t, err, "decode event")
	if ev.App != "support-bot" || ev.Model != "gpt-4o-mini-2024-07-18" || len(ev.Context) != 2 {
		t.Errorf("unexpected event: %v", ev)
	}

	col.Shutdown()
	select {
	case err := <-done:
		stopped = true
		if err != nil {
			t.Fatalf("collector run: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("collector did not shut down")
	}
}

func TestTelemetryDefaultPort(t *testing.T) {
	f, err := Components()
	must(t, err, "components")
	cfg := f.Telemetry.CreateDefaultConfig().(*otelconftelemetry.Config)
	for _, r := range cfg.Metrics.MeterProvider.Readers {
		if p := r.Pull.Exporter.Prometheus; p == nil || p.Port == nil || *p.Port != DefaultMetricsPort {
			t.Fatalf("metrics port is not %d", DefaultMetricsPort)
		}
	}
}
