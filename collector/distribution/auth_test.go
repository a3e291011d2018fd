package distribution

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/collector/otelcol"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/sightline-dev/sightline/internal/auth"
	"github.com/sightline-dev/sightline/internal/broker"
	"github.com/sightline-dev/sightline/schemas"
)

// With a guard that checks keys (sightline up --otlp with auth.enabled),
// OTLP/HTTP and OTLP/gRPC need an ingest key: without one 401 and
// Unauthenticated, with a read key 403, with an ingest key the spans go
// through, stored under the key's tenant, not the one the data claims.
func TestStartInProcessWithKeys(t *testing.T) {
	b := startBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	store := &auth.FileStore{Path: filepath.Join(t.TempDir(), "keys.json")}
	mk := func(role auth.Role) string {
		k, rec, err := auth.NewKeyRecord("acme", role, "", time.Time{}, "test")
		must(t, err, "key")
		must(t, store.Add(ctx, rec), "add")
		return k
	}
	ingest, read := mk(auth.RoleIngest), mk(auth.RoleRead)
	ring, err := auth.NewKeyring(ctx, store, auth.Config{}, nil, nil)
	must(t, err, "keyring")
	defer ring.Close()
	guard, err := auth.NewGuard(ring, auth.Config{Enabled: true}, prometheus.NewRegistry())
	must(t, err, "guard")
	o := Options{
		Brokers:     b.Addrs(),
		GRPCAddr:    "127.0.0.1:" + strconv.Itoa(freePort(t)),
		HTTPAddr:    "127.0.0.1:" + strconv.Itoa(freePort(t)),
		MetricsAddr: "127.0.0.1:" + strconv.Itoa(freePort(t)),
		Guard:       guard,
		Tenant:      "beta", // what the spans claim, as the exporter's default tenant
	}
	r, err := Start(ctx, o)
	must(t, err, "start")
	defer r.Shutdown()

	body, err := os.ReadFile(filepath.Join("..", "sightlineexporter", "testdata", "traces", "genai_current.json"))
	must(t, err, "read spans")
	for _, c := range []struct {
		key    string
		status int
	}{{"", 401}, {"slk_forged", 401}, {read, 403}, {ingest, 200}} {
		req, _ := http.NewRequest("POST", "http://"+o.HTTPAddr+"/v1/traces", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if c.key != "" {
			req.Header.Set("Authorization", "Bearer "+c.key)
		}
		resp, err := http.DefaultClient.Do(req)
		must(t, err, "post spans")
		var msg bytes.Buffer
		msg.ReadFrom(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status || (c.status != 200 && !strings.Contains(msg.String(), `"error"`)) {
			t.Errorf("OTLP/HTTP with %q answered %d %s, want %d", c.key, resp.StatusCode, msg.String(), c.status)
		}
	}

	conn, err := grpc.NewClient(o.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	must(t, err, "grpc client")
	defer conn.Close()
	cl := ptraceotlp.NewGRPCClient(conn)
	req := ptraceotlp.NewExportRequestFromTraces(ptrace.NewTraces())
	for _, c := range []struct {
		md   []string
		code codes.Code
	}{{nil, codes.Unauthenticated}, {[]string{"authorization", "Bearer " + read}, codes.PermissionDenied},
		{[]string{"x-sightline-key", ingest}, codes.OK}} {
		cctx := ctx
		if c.md != nil {
			cctx = metadata.AppendToOutgoingContext(ctx, c.md...)
		}
		if _, err := cl.Export(cctx, req); status.Code(err) != c.code {
			t.Errorf("OTLP/gRPC with %v: %v, want %s", c.md, err, c.code)
		}
	}

	kcl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...), kgo.ConsumeTopics(broker.TopicEvents),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	must(t, err, "consumer")
	defer kcl.Close()
	pctx, pcancel := context.WithTimeout(ctx, 20*time.Second)
	defer pcancel()
	fetches := kcl.PollRecords(pctx, 10)
	recs := fetches.Records()
	if len(recs) != 1 {
		t.Fatalf("%d events on the topic, want the ingest key's one: %v", len(recs), fetches.Errors())
	}
	ev, err := schemas.Decode(recs[0].Value)
	must(t, err, "decode")
	if ev.Tenant != "acme" {
		t.Fatalf("stored under tenant %q, want the key's (acme)", ev.Tenant)
	}
}

// The sightline-collector configuration the sightlineauth README shows is
// valid.
func TestAuthExampleConfigValid(t *testing.T) {
	path, err := filepath.Abs(filepath.Join("..", "sightlineauth", "testdata", "collector.yaml"))
	must(t, err, "path")
	col, err := otelcol.NewCollector(Settings("file:" + path))
	must(t, err, "collector")
	must(t, col.DryRun(context.Background()), "validate "+path)
}
