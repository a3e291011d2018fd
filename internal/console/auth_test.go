package console_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sightline-dev/sightline/internal/auth"
	"github.com/sightline-dev/sightline/internal/console"
	"github.com/sightline-dev/sightline/internal/testenv"
	"github.com/sightline-dev/sightline/processors/eventfeatures"
	"github.com/sightline-dev/sightline/processors/window"
	"github.com/sightline-dev/sightline/schemas/eventpb"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

// twoTenants stores calls and signals of tenants alpha (app alpha-app)
// and bravo (app bravo-app), and returns one call id of each.
func twoTenants(t *testing.T, conn driver.Conn) (alphaCall, bravoCall string) {
	t.Helper()
	ctx := context.Background()
	t0 := time.Now().Add(-10 * time.Minute).Truncate(time.Minute)
	var rows []chsink.EventRow
	var sig []chsink.SignalRow
	for ti, tenant := range []string{"alpha", "bravo"} {
		for i := 0; i < 5; i++ {
			ev := &eventpb.Event{SchemaVersion: 1, EventId: fmt.Sprintf("0190c8e4-5a2b-7c3d-8e4f-%06d%06d", ti, i), Tenant: tenant,
				App: tenant + "-app", Model: "m", Variant: "control", Ts: timestamppb.New(t0.Add(time.Duration(i) * 10 * time.Second)),
				DurationMs: 100, Prompt: []*eventpb.Message{{Role: "user", Content: "question of " + tenant}},
				Completion: []*eventpb.Message{{Role: "assistant", Content: "secret answer of " + tenant}}}
			r := chsink.EventRow{Event: ev, Offset: int64(i)}
			r.Features = eventfeatures.Compute(ev)
			rows = append(rows, r)
		}
		key := window.Key{Tenant: tenant, App: tenant + "-app", Model: "m", Variant: "control"}
		for i := 0; i < 3; i++ {
			ws := t0.Add(time.Duration(i) * time.Minute).Unix()
			sig = append(sig, chsink.SignalRow{Key: key, WindowStart: ws, WindowSeconds: 60, Signal: window.Signal{Name: "events", Metric: "count", Value: 5, N: 5}},
				chsink.SignalRow{Key: key, WindowStart: ws, WindowSeconds: 60, Signal: window.Signal{Name: "toxicity", Metric: "rate", Value: 0.1, N: 5}})
		}
	}
	testenv.Must(t, chsink.InsertEvents(ctx, conn, rows), "insert events")
	testenv.Must(t, chsink.InsertSignals(ctx, conn, sig), "insert signals")
	return rows[0].Event.EventId, rows[5].Event.EventId
}

// With keys, the Console needs a read or admin key, reads only the key's
// tenant (a call of another tenant is not found by its id, naming another
// tenant is 403), and records every read of content in llm_audit before
// showing it.
func TestConsoleWithKeys(t *testing.T) {
	conn, _ := testenv.Database(t)
	alphaCall, bravoCall := twoTenants(t, conn)
	ctx := context.Background()
	store := &auth.FileStore{Path: t.TempDir() + "/keys.json"}
	mk := func(tenant string, role auth.Role) (string, auth.Record) {
		k, rec, err := auth.NewKeyRecord(tenant, role, "test", time.Time{}, "test")
		testenv.Must(t, err, "key")
		testenv.Must(t, store.Add(ctx, rec), "add key")
		return k, rec
	}
	alphaRead, alphaRec := mk("alpha", auth.RoleRead)
	alphaIngest, _ := mk("alpha", auth.RoleIngest)
	admin, _ := mk(auth.AllTenants, auth.RoleAdmin)
	ring, err := auth.NewKeyring(ctx, store, auth.Config{}, nil, nil)
	testenv.Must(t, err, "keyring")
	defer ring.Close()
	guard, err := auth.NewGuard(ring, auth.Config{Enabled: true, RateLimit: auth.RateLimitConfig{RequestsPerSecond: -1}}, nil)
	testenv.Must(t, err, "guard")
	// Beyond loopback: with keys, content is shown to read keys.
	c, err := console.New(console.Options{Conn: conn, Config: console.DefaultConfig(), ListenAddr: "0.0.0.0:8088", Guard: guard})
	testenv.Must(t, err, "console")
	get := func(target, key string) (int, string, http.Header) {
		r := httptest.NewRequest(http.MethodGet, target, nil)
		if key != "" {
			r.SetBasicAuth("me", key) // as a browser sends what its prompt got
		}
		rec := httptest.NewRecorder()
		c.ServeHTTP(rec, r)
		b, _ := io.ReadAll(rec.Result().Body)
		return rec.Code, string(b), rec.Header()
	}
	if code, _, h := get("/calls", ""); code != 401 || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Basic ") {
		t.Fatalf("no key: %d %q", code, h.Get("WWW-Authenticate"))
	}
	if code, _, _ := get("/assets/console.css", ""); code != 200 {
		t.Errorf("assets without a key: %d", code)
	}
	if code, _, _ := get("/calls", alphaIngest); code != 403 {
		t.Errorf("ingest key: %d", code)
	}
	// Every page a read key opens shows alpha and nothing of bravo.
	for _, page := range []string{"/", "/calls", "/calls?range=24h&sort=latency", "/signals", "/signals/drift", "/signals/bias",
		"/signals/ab", "/alerts", "/jobs", "/calls/" + alphaCall} {
		code, body, _ := get(page, alphaRead)
		if code != 200 {
			t.Errorf("%s: %d %s", page, code, body)
			continue
		}
		for _, leak := range []string{"bravo", bravoCall} {
			if strings.Contains(body, leak) {
				t.Errorf("%s shows %q to alpha's key", page, leak)
			}
		}
	}
	if _, body, _ := get("/calls", alphaRead); !strings.Contains(body, alphaCall) {
		t.Error("alpha's calls are not listed for alpha's key")
	}
	if code, body, _ := get("/calls/"+bravoCall, alphaRead); code != 404 || strings.Contains(body, "secret answer of bravo") {
		t.Errorf("bravo's call by id with alpha's key: %d", code)
	}
	for _, page := range []string{"/calls?tenant=bravo", "/calls/" + bravoCall + "?tenant=bravo&app=bravo-app", "/signals?tenant=bravo"} {
		if code, body, _ := get(page, alphaRead); code != 403 || strings.Contains(body, "secret answer of bravo") {
			t.Errorf("%s with alpha's key: %d", page, code)
		}
	}
	if code, body, _ := get("/live", alphaRead); code != 200 || !strings.Contains(body, "stamp") {
		t.Errorf("/live: %d %s", code, body)
	}
	// Content: shown and audited.
	code, body, _ := get("/calls/"+alphaCall, alphaRead)
	if code != 200 || !strings.Contains(body, "secret answer of alpha") {
		t.Fatalf("alpha's call with alpha's key: %d", code)
	}
	if code, body, _ := get("/calls/"+bravoCall, admin); code != 200 || !strings.Contains(body, "secret answer of bravo") {
		t.Errorf("bravo's call with an admin key of every tenant: %d", code)
	}
	rows, err := chsink.ReadAudit(ctx, conn, chsink.AuditFilter{Range: chsink.Range{Since: time.Now().Add(-time.Hour), Until: time.Now().Add(time.Minute), Limit: 100},
		Eq: []chsink.Eq{{Column: "action", Value: chsink.AuditReadContent}}})
	testenv.Must(t, err, "read audit")
	var alphaReads int
	for _, r := range rows {
		if r.Actor == alphaRec.ID && r.Target == alphaCall && r.Tenant == "alpha" && r.ActorRole == "read" {
			alphaReads++
		}
		if r.Target == bravoCall && r.Actor == alphaRec.ID {
			t.Errorf("alpha's key is recorded reading bravo's call: %+v", r)
		}
	}
	if alphaReads != 2 { // the page walk above and the read just now
		t.Errorf("%d audited reads of alpha's call by alpha's key, want 2: %+v", alphaReads, rows)
	}
}
