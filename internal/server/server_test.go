package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sightline-dev/sightline/internal/server"
	"github.com/sightline-dev/sightline/internal/testenv"
	"github.com/sightline-dev/sightline/sdk/sdktest"
)

func TestReadinessAndIngest(t *testing.T) {
	b := testenv.Broker(t, "")
	prod, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...))
	testenv.Must(t, err, "producer")
	defer prod.Close()
	var ready atomic.Bool
	reg := prometheus.NewRegistry()
	s, err := server.Start(server.Config{Addr: "127.0.0.1:0", Gatherer: reg,
		Checks: []server.Check{{Name: "stage", Ready: ready.Load}}, Producer: prod, Topic: "sightline.events"})
	testenv.Must(t, err, "start")
	base := "http://" + s.Addr()

	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		testenv.Must(t, err, "get")
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := get("/readyz"); code != 503 || !strings.Contains(body, "stage") {
		t.Fatalf("readyz before ready: %d %q", code, body)
	}
	ready.Store(true)
	if code, _ := get("/readyz"); code != 200 {
		t.Fatalf("readyz when ready: %d", code)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Fatal("healthz")
	}
	if code, _ := get("/metrics"); code != 200 {
		t.Fatal("metrics")
	}

	body := `{"schema_version":1,"event_id":"0190c8e4-5a2b-7c3d-8e4f-0123456789ab","app":"a","model":"m","ts":"2026-11-27T10:00:00Z","prompt":[{"role":"user","content":"hi"}]}
{"schema_version":1,"app":"a"}
`
	resp, err := http.Post(base+"/v1/events", "application/x-ndjson", strings.NewReader(body))
	testenv.Must(t, err, "post")
	var res struct {
		Accepted int
		Rejected []struct {
			Index  int
			Reason string
		}
	}
	json.NewDecoder(resp.Body).Decode(&res)
	resp.Body.Close()
	if res.Accepted != 1 || len(res.Rejected) != 1 || res.Rejected[0].Index != 1 || res.Rejected[0].Reason != "missing_field" {
		t.Fatalf("ingest result %+v", res)
	}
	evs := sdktest.ReadEvents(t, b.Addrs(), "sightline.events", 1, 10*time.Second)
	if evs[0].GetPrompt()[0].GetContent() != "hi" {
		t.Fatal("ingested event differs")
	}
}

// /readyz names each check that is not ready, with its reason.
func TestReadyzSaysWhy(t *testing.T) {
	srv, err := server.Start(server.Config{Addr: "127.0.0.1:0", Checks: []server.Check{
		{Name: "clickhouse", Ready: func() bool { return true }},
		{Name: "aggregate", Status: func() (bool, string) { return false, "owns no partition of sightline.partials" }},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(context.Background())
	resp, err := http.Get("http://" + srv.Addr() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(b), "aggregate (owns no partition of sightline.partials)") || strings.Contains(string(b), "clickhouse") {
		t.Fatalf("%s %q", resp.Status, b)
	}
}
