package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sightline-dev/sightline/internal/server"
)

// The ingest section: its keys load, left out they are the server's
// defaults, and bad values are refused naming the key.
func TestIngestKeys(t *testing.T) {
	dir := t.TempDir()
	load := func(body string) (Config, error) {
		p := filepath.Join(dir, "c.yaml")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return Load(p)
	}
	c, err := load("ingest:\n  max_body_bytes: 1048576\n  max_events_per_request: 500\n  max_concurrent_requests: 4\n" +
		"  max_inflight_bytes: 8388608\n  queue_timeout: 2s\n  ack_timeout: 10s\n")
	if err != nil {
		t.Fatal(err)
	}
	want := server.IngestConfig{MaxBodyBytes: 1 << 20, MaxEventsPerRequest: 500, MaxConcurrentRequests: 4,
		MaxInflightBytes: 8 << 20, QueueTimeout: 2 * time.Second, AckTimeout: 10 * time.Second}
	if c.Ingest != want {
		t.Fatalf("loaded %+v, want %+v", c.Ingest, want)
	}
	if c, err := load("http_addr: 127.0.0.1:8088\n"); err != nil || c.Ingest != (server.IngestConfig{}) {
		t.Fatalf("without an ingest section: %+v, %v (want the zero value, which is the defaults)", c.Ingest, err)
	}
	for name, tc := range map[string]struct{ body, want string }{
		"unknown key":            {"ingest:\n  max_body: 1\n", "max_body"},
		"negative body":          {"ingest:\n  max_body_bytes: -1\n", "ingest.max_body_bytes"},
		"negative events":        {"ingest:\n  max_events_per_request: -5\n", "ingest.max_events_per_request"},
		"negative concurrency":   {"ingest:\n  max_concurrent_requests: -1\n", "ingest.max_concurrent_requests"},
		"in flight below a body": {"ingest:\n  max_body_bytes: 8388608\n  max_inflight_bytes: 1048576\n", "ingest.max_inflight_bytes"},
		"negative ack timeout":   {"ingest:\n  ack_timeout: -1s\n", "ingest.ack_timeout"},
	} {
		if _, err := load(tc.body); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error naming %q", name, err, tc.want)
		}
	}
}
