package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sightline-dev/sightline/internal/app"
	"github.com/sightline-dev/sightline/internal/auth"
	"github.com/sightline-dev/sightline/internal/chlocal"
	"github.com/sightline-dev/sightline/internal/config"
	"github.com/sightline-dev/sightline/internal/testenv"
)

// `up --otlp` with auth.enabled against a real ClickHouse: every surface
// (OTLP too) wants a key, an ingest key's events are stored under its tenant whatever they
// claim, a read key sees its tenant's calls only, and a revoked key is
// refused within auth.refresh_interval.
func TestUpWithKeys(t *testing.T) {
	conn, ch := testenv.Database(t)
	port := func() string {
		p, err := chlocal.FreePort()
		testenv.Must(t, err, "free port")
		return strconv.Itoa(p)
	}
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.HTTPAddr = "127.0.0.1:" + port()
	cfg.Kafka.EmbeddedAddr = "127.0.0.1:" + port()
	cfg.ClickHouse.Addrs, cfg.ClickHouse.Database = ch.Addrs[:1], ch.Database
	cfg.Score.FlushInterval = 200 * time.Millisecond
	cfg.Auth.Enabled = true
	cfg.Auth.RefreshInterval = 500 * time.Millisecond
	cfg.OTLP.Enabled = true
	cfg.OTLP.GRPCAddr, cfg.OTLP.HTTPAddr, cfg.OTLP.MetricsAddr = "127.0.0.1:"+port(), "127.0.0.1:"+port(), "127.0.0.1:"+port()
	testenv.Must(t, cfg.Validate(), "config")

	ctx := context.Background()
	store := auth.ClickHouseStore{Conn: conn}
	mk := func(tenant string, role auth.Role) (string, string) {
		k, rec, err := auth.NewKeyRecord(tenant, role, "test", time.Time{}, "test")
		testenv.Must(t, err, "key")
		testenv.Must(t, store.Add(ctx, rec), "add key")
		return k, rec.ID
	}
	ingestA, ingestAID := mk("acme", auth.RoleIngest)
	ingestB, _ := mk("beta", auth.RoleIngest)
	readA, _ := mk("acme", auth.RoleRead)

	logs := &syncBuffer{}
	upCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- app.Up(upCtx, cfg, slog.New(slog.NewTextHandler(logs, nil))) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("up: %v", err)
		}
		if t.Failed() {
			t.Logf("up's log:\n%s", logs.String())
		}
	})
	base := "http://" + cfg.HTTPAddr
	do := func(method, path, key, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		testenv.Must(t, err, method+" "+path)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	testenv.Eventually(t, 60*time.Second, "up ready", func() (bool, string) {
		select {
		case err := <-done:
			t.Fatalf("up stopped: %v", err)
		default:
		}
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode == http.StatusOK, string(b)
	})

	for _, c := range []struct {
		method, path, key string
		status            int
	}{
		{"POST", "/v1/events", "", 401}, {"GET", "/v1/summary", "", 401}, {"GET", "/v1/signals", "", 401}, {"GET", "/v1/alerts", "", 401},
		{"GET", "/v1/audit", "", 401}, {"GET", "/metrics", "", 401}, {"GET", "/", "", 401}, {"GET", "/calls", "", 401},
		{"GET", "/v1/summary", ingestA, 403}, {"GET", "/", ingestA, 403}, {"GET", "/v1/audit", readA, 403},
		{"GET", "/v1/summary?tenant=beta", readA, 403}, {"GET", "/calls?tenant=beta", readA, 403},
		{"GET", "/healthz", "", 200}, {"GET", "/metrics", readA, 200},
	} {
		if code, body := do(c.method, c.path, c.key, ""); code != c.status {
			t.Errorf("%s %s: %d %s, want %d", c.method, c.path, code, body, c.status)
		}
	}
	for key, want := range map[string]int{"": 401, readA: 403, ingestA: 200} {
		req, _ := http.NewRequest("POST", "http://"+cfg.OTLP.HTTPAddr+"/v1/traces", strings.NewReader(`{"resourceSpans":[]}`))
		req.Header.Set("Content-Type", "application/json")
		if key != "" {
			req.Header.Set("X-Sightline-Key", key)
		}
		resp, err := http.DefaultClient.Do(req)
		testenv.Must(t, err, "otlp")
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("OTLP/HTTP with %q: %d, want %d", key, resp.StatusCode, want)
		}
	}

	// A minute back: the reads end at now, to the second (until is exclusive).
	now := time.Now().UTC().Add(-time.Minute).Format(time.RFC3339)
	event := func(id, tenant, app string) string {
		t := ""
		if tenant != "" {
			t = `"tenant":"` + tenant + `",`
		}
		return `{"schema_version":1,"event_id":"0190c8e4-5a2b-7c3d-8e4f-00000000000` + id + `",` + t + `"app":"` + app +
			`","model":"m","ts":"` + now + `","prompt":[{"role":"user","content":"hi"}]}`
	}
	for _, p := range []struct{ key, body string }{
		{ingestA, event("1", "acme", "a-own")},
		{ingestA, event("2", "beta", "a-claims-beta")}, // relabelled: stored under acme
		{ingestB, event("3", "", "b-own")},
	} {
		if code, body := do("POST", "/v1/events", p.key, p.body); code != 200 {
			t.Fatalf("ingest: %d %s", code, body)
		}
	}
	testenv.Eventually(t, 60*time.Second, "3 events stored", func() (bool, string) {
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT uniqExact(event_id) FROM llm_events").Scan(&n); err != nil {
			return false, err.Error()
		}
		return n == 3, fmt.Sprint(n)
	})
	rows, err := conn.Query(ctx, "SELECT DISTINCT app, tenant FROM llm_events ORDER BY app")
	testenv.Must(t, err, "tenants")
	got := map[string]string{}
	for rows.Next() {
		var a, tn string
		testenv.Must(t, rows.Scan(&a, &tn), "scan")
		got[a] = tn
	}
	rows.Close()
	if want := map[string]string{"a-own": "acme", "a-claims-beta": "acme", "b-own": "beta"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("stored tenants %v, want %v", got, want)
	}

	code, body := do("GET", "/v1/summary", readA, "")
	var sum struct {
		Apps []struct{ Tenant, App string }
	}
	if code != 200 || json.Unmarshal([]byte(body), &sum) != nil {
		t.Fatalf("summary: %d %s", code, body)
	}
	var apps []string
	for _, a := range sum.Apps {
		if a.Tenant != "acme" {
			t.Errorf("acme's read key sees tenant %q: %s", a.Tenant, body)
		}
		apps = append(apps, a.App)
	}
	if len(apps) != 2 {
		t.Errorf("acme's read key sees apps %v, want a-own and a-claims-beta: %s", apps, body)
	}
	if code, body := do("GET", "/calls", readA, ""); code != 200 || strings.Contains(body, "b-own") || !strings.Contains(body, "a-own") {
		t.Errorf("console calls for acme's read key: %d, b-own shown %v", code, strings.Contains(body, "b-own"))
	}

	_, err = store.Revoke(ctx, ingestAID, time.Now())
	testenv.Must(t, err, "revoke")
	revoked := time.Now()
	for {
		code, _ := do("POST", "/v1/events", ingestA, event("4", "", "late"))
		if code == 401 {
			break
		}
		if time.Since(revoked) > auth.MaxRefresh {
			t.Fatalf("a revoked key still ingests after %s (auth.refresh_interval %s)", time.Since(revoked), cfg.Auth.RefreshInterval)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("revoked key refused after %s (auth.refresh_interval %s)", time.Since(revoked).Round(time.Millisecond), cfg.Auth.RefreshInterval)
}

// Beyond loopback without authentication `up` refuses to start, saying
// why and naming --insecure, before it starts anything.
func TestUpRefusesAnOpenAddress(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.HTTPAddr = "0.0.0.0:0"
	start := time.Now()
	err := app.Up(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "http_addr 0.0.0.0:0") || !strings.Contains(err.Error(), "--insecure") ||
		!strings.Contains(err.Error(), "auth.enabled") {
		t.Fatalf("up on 0.0.0.0 without auth: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("refused after %s: it started something first", d)
	}
	cfg.OTLP.Enabled, cfg.HTTPAddr, cfg.OTLP.HTTPAddr = true, "127.0.0.1:0", "[::]:4318"
	if err := app.Up(context.Background(), cfg, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "otlp.http_addr") {
		t.Fatalf("up --otlp on [::] without auth: %v", err)
	}
	// Keys do not cover Kafka: an embedded broker beyond loopback is
	// refused with auth on too.
	cfg.OTLP.Enabled, cfg.Auth.Enabled, cfg.Kafka.EmbeddedAddr = false, true, "0.0.0.0:19092"
	if err := app.Up(context.Background(), cfg, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "kafka.embedded_addr") ||
		!strings.Contains(err.Error(), "--insecure") {
		t.Fatalf("up with the embedded broker on 0.0.0.0: %v", err)
	}
}
