package auth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

var zeroTime time.Time

func newTestRing(t *testing.T, cfg Config) (*FileStore, *Keyring) {
	t.Helper()
	store := &FileStore{Path: t.TempDir() + "/keys.json"}
	ring, err := NewKeyring(context.Background(), store, cfg, prometheus.NewRegistry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ring.Close)
	return store, ring
}

func addKey(t *testing.T, s Store, tenant string, role Role) (string, Record) {
	t.Helper()
	key, rec, err := NewKeyRecord(tenant, role, "t", zeroTime, "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Add(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	return key, rec
}

func TestKeyringLifecycle(t *testing.T) {
	store, ring := newTestRing(t, Config{RefreshInterval: 200 * time.Millisecond})
	ctx := context.Background()
	// A key created after the keyring loaded works at once (an unknown
	// key reloads).
	key, rec := addKey(t, store, "acme", RoleIngest)
	p, err := ring.Verify(ctx, key)
	if err != nil || p.Tenant != "acme" || p.Role != RoleIngest || p.KeyID != rec.ID {
		t.Fatalf("verify: %+v %v", p, err)
	}
	b, _ := os.ReadFile(store.Path)
	if strings.Contains(string(b), key) || !strings.Contains(string(b), rec.Hash) {
		t.Fatal("the keys file holds the key, or not its hash")
	}
	if fi, _ := os.Stat(store.Path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("keys file mode %v", fi.Mode())
	}
	// Revoked: refused within the refresh interval.
	revokedAt := time.Now()
	if _, err := store.Revoke(ctx, rec.ID, revokedAt); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		_, err := ring.Verify(ctx, key)
		if errors.Is(err, ErrRevoked) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %v after %s", err, time.Since(revokedAt))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if took := time.Since(revokedAt); took > 200*time.Millisecond+time.Second {
		t.Errorf("revocation took %s with a 200ms refresh", took)
	}
	if _, err := store.Revoke(ctx, "nope", time.Now()); !errors.Is(err, ErrNoSuchKey) {
		t.Errorf("revoking an unknown id: %v", err)
	}
	// Expired, unknown, malformed, missing.
	exp, erec, _ := NewKeyRecord("acme", RoleRead, "old", time.Now().Add(-time.Minute), "test")
	store.Add(ctx, erec)
	if err := ring.load(ctx); err != nil { // as the next refresh would
		t.Fatal(err)
	}
	other, _ := NewKey()
	for _, c := range []struct {
		key  string
		want error
	}{{exp, ErrExpired}, {other, ErrUnknown}, {"slk_nope", ErrMalformed}, {"", ErrNoKey}} {
		if _, err := ring.Verify(ctx, c.key); !errors.Is(err, c.want) {
			t.Errorf("got %v, want %v", err, c.want)
		}
	}
}

// Unknown keys reload the keys at most once a second, however many come.
func TestUnknownKeysReloadAtMostOnceASecond(t *testing.T) {
	reg := prometheus.NewRegistry()
	store := &FileStore{Path: t.TempDir() + "/keys.json"}
	ring, err := NewKeyring(context.Background(), store, Config{RefreshInterval: 10 * time.Second}, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ring.Close()
	start := time.Now()
	for i := 0; i < 500; i++ {
		k, _ := NewKey()
		ring.Verify(context.Background(), k)
	}
	loads := counterValue(ring.reloads.WithLabelValues("ok"))
	if max := 2 + time.Since(start).Seconds(); loads > max {
		t.Fatalf("%v loads in %s", loads, time.Since(start))
	}
}

// Beyond max_keys the reload fails and the keys loaded last stay.
func TestKeyringMaxKeys(t *testing.T) {
	store, ring := newTestRing(t, Config{MaxKeys: 2})
	k1, _ := addKey(t, store, "a", RoleRead)
	if _, err := ring.Verify(context.Background(), k1); err != nil {
		t.Fatal(err)
	}
	addKey(t, store, "a", RoleRead)
	addKey(t, store, "a", RoleRead)
	if err := ring.load(context.Background()); err == nil || !strings.Contains(err.Error(), "auth.max_keys") {
		t.Fatalf("load: %v", err)
	}
	if _, err := ring.Verify(context.Background(), k1); err != nil {
		t.Fatalf("the keys loaded last are gone: %v", err)
	}
	if _, err := NewKeyring(context.Background(), store, Config{MaxKeys: 2}, nil, nil); err == nil {
		t.Fatal("a keyring started with too many keys")
	}
}

func TestGuard(t *testing.T) {
	store, ring := newTestRing(t, Config{})
	ingest, _ := addKey(t, store, "acme", RoleIngest)
	read, _ := addKey(t, store, "acme", RoleRead)
	admin, _ := addKey(t, store, AllTenants, RoleAdmin)
	reg := prometheus.NewRegistry()
	g, err := NewGuard(ring, Config{Enabled: true, RateLimit: RateLimitConfig{RequestsPerSecond: 1, Burst: 3}}, reg)
	if err != nil {
		t.Fatal(err)
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := FromContext(r.Context())
		w.Write([]byte(p.Tenant))
	})
	do := func(h http.Handler, hdr string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "/", nil)
		if hdr != "" {
			r.Header.Set("Authorization", hdr)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	readH := g.Require(SurfaceRead, RoleRead, false, ok)
	for _, c := range []struct {
		name   string
		h      http.Handler
		hdr    string
		status int
	}{
		{"no key", readH, "", 401},
		{"malformed", readH, "Bearer nope", 401},
		{"ingest key reads", readH, "Bearer " + ingest, 403},
		{"read key reads", readH, "Bearer " + read, 200},
		{"admin key reads", readH, "Bearer " + admin, 200},
		{"read key ingests", g.Require(SurfaceIngest, RoleIngest, false, ok), "Bearer " + read, 403},
		{"read key reads the audit", g.Require(SurfaceAudit, RoleAdmin, false, ok), "Bearer " + read, 403},
		{"browser without key", g.Require(SurfaceConsole, RoleRead, true, ok), "", 401},
	} {
		w := do(c.h, c.hdr)
		if w.Code != c.status {
			t.Errorf("%s: %d %s", c.name, w.Code, w.Body)
			continue
		}
		if c.status != 200 {
			var body struct{ Error string }
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error == "" {
				t.Errorf("%s: body %q", c.name, w.Body)
			}
		}
		if c.status == 401 && w.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("%s: no WWW-Authenticate", c.name)
		}
	}
	if w := do(g.Require(SurfaceConsole, RoleRead, true, ok), ""); !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Basic ") {
		t.Errorf("the console asks for %q", w.Header().Get("WWW-Authenticate"))
	}
	// Rate: the read key made one request that passed (refusals for its
	// role take no token); a burst of 3 holds two more, then 429 with
	// Retry-After.
	do(readH, "Bearer "+read)
	do(readH, "Bearer "+read)
	w := do(readH, "Bearer "+read)
	if w.Code != 429 || w.Header().Get("Retry-After") != "1" {
		t.Fatalf("rate limit: %d, Retry-After %q, %s", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
	if n := counterValue(g.requests.WithLabelValues(SurfaceRead, "rate_limited")); n != 1 {
		t.Errorf("rate_limited counted %v", n)
	}
	// Other keys are not held back by this one's limit.
	if w := do(readH, "Bearer "+admin); w.Code != 200 {
		t.Errorf("admin after read's limit: %d", w.Code)
	}
	// Off: anonymous, unrestricted.
	if w := do(Off().Require(SurfaceRead, RoleRead, false, ok), ""); w.Code != 200 || w.Body.String() != AllTenants {
		t.Errorf("off: %d %q", w.Code, w.Body)
	}
	// Metrics: open, read (default), admin.
	for _, c := range []struct {
		level, hdr string
		status     int
	}{{MetricsOpen, "", 200}, {MetricsRead, "", 401}, {MetricsRead, "Bearer " + ingest, 403}, {MetricsAdmin, "Bearer " + read, 403}} {
		g, _ := NewGuard(ring, Config{Enabled: true, Metrics: c.level}, nil)
		if w := do(g.Metrics(ok), c.hdr); w.Code != c.status {
			t.Errorf("metrics %s with %q: %d", c.level, c.hdr, w.Code)
		}
	}
}

func TestPrincipalTenants(t *testing.T) {
	p := Principal{Tenant: "a", Role: RoleRead}
	if got, err := p.ReadTenant(""); got != "a" || err != nil {
		t.Errorf("default: %q %v", got, err)
	}
	if _, err := p.ReadTenant("b"); !errors.Is(err, ErrWrongTenant) {
		t.Errorf("other tenant: %v", err)
	}
	all := Principal{Tenant: AllTenants, Role: RoleAdmin}
	if got, _ := all.ReadTenant("b"); got != "b" {
		t.Errorf("all tenants reading b: %q", got)
	}
	if got, relabeled, err := p.IngestTenant("b", Relabel); got != "a" || !relabeled || err != nil {
		t.Errorf("relabel: %q %v %v", got, relabeled, err)
	}
	if _, _, err := p.IngestTenant("b", Refuse); !errors.Is(err, ErrWrongTenant) {
		t.Errorf("refuse: %v", err)
	}
	if got, relabeled, _ := p.IngestTenant("", Refuse); got != "a" || relabeled {
		t.Errorf("no claim: %q %v", got, relabeled)
	}
	if err := ValidKeyScope(AllTenants, RoleIngest); err == nil {
		t.Error("an ingest key for every tenant")
	}
}

func TestCheckExposure(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		addr string
		ok   bool
	}{
		{Config{}, "127.0.0.1:8088", true}, {Config{}, "localhost:8088", true}, {Config{}, "[::1]:8088", true},
		{Config{}, "0.0.0.0:8088", false}, {Config{}, ":8088", false}, {Config{}, "10.0.0.5:8088", false}, {Config{}, "myhost:8088", false},
		{Config{Enabled: true}, "0.0.0.0:8088", true}, {Config{Insecure: true}, "0.0.0.0:8088", true},
	} {
		err := CheckExposure(c.cfg, Listener{"http_addr", c.addr})
		if (err == nil) != c.ok {
			t.Errorf("%+v %s: %v", c.cfg, c.addr, err)
		}
		if err != nil && (!strings.Contains(err.Error(), "--insecure") || !strings.Contains(err.Error(), "http_addr "+c.addr)) {
			t.Errorf("the refusal does not say why and what to do: %v", err)
		}
	}
}

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}
