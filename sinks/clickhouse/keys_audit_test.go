package clickhouse_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sightline-dev/sightline/internal/testenv"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

// Audit rows are written with their defaults and read back by tenant: an
// admin key of one tenant sees the rows about it or done by its keys.
func TestAuditRoundTrip(t *testing.T) {
	conn, _ := testenv.Database(t)
	ctx := context.Background()
	at := time.Now().Add(-time.Minute)
	testenv.Must(t, chsink.InsertAudit(ctx, conn,
		chsink.AuditRow{TS: at, Actor: "k1", ActorTenant: "a", ActorRole: "read", Action: chsink.AuditReadContent, Tenant: "a", Target: "e1"},
		chsink.AuditRow{TS: at, Actor: "cli:x@y", Action: chsink.AuditKeyCreate, Tenant: "b", Target: "k2"},
		chsink.AuditRow{TS: at, Actor: "k3", ActorTenant: "a", ActorRole: "admin", Action: chsink.AuditForget, Tenant: "a",
			Target: chsink.AuditUserTarget("a", "u1"), Detail: `{"rows":3}`},
	), "insert audit")
	if err := chsink.InsertAudit(ctx, conn, chsink.AuditRow{Actor: "x"}); err == nil {
		t.Fatal("a row without an action was accepted")
	}
	rg := chsink.Range{Since: at.Add(-time.Hour), Until: time.Now().Add(time.Minute), Limit: 100}
	all, err := chsink.ReadAudit(ctx, conn, chsink.AuditFilter{Range: rg})
	testenv.Must(t, err, "read")
	if len(all) != 3 {
		t.Fatalf("rows: %+v", all)
	}
	// The three rows share a time, so their order is by random id: find
	// the one written without detail or outcome and check its defaults.
	for _, r := range all {
		if r.ID == "" {
			t.Errorf("row without an id: %+v", r)
		}
		if r.Action == chsink.AuditReadContent && (r.Outcome != chsink.AuditOK || r.Detail != "{}") {
			t.Errorf("defaults not applied: %+v", r)
		}
	}
	onlyA, err := chsink.ReadAudit(ctx, conn, chsink.AuditFilter{Range: rg, Tenant: "a"})
	testenv.Must(t, err, "read a")
	if len(onlyA) != 2 {
		t.Fatalf("tenant a sees %d rows: %+v", len(onlyA), onlyA)
	}
	for _, r := range onlyA {
		if r.Tenant != "a" {
			t.Errorf("tenant a sees %+v", r)
		}
	}
	if got := chsink.AuditUserTarget("a", "u1"); got == chsink.AuditUserTarget("b", "u1") || len(got) != len("user:")+16 {
		t.Errorf("user target %q", got)
	}
}

// A key is stored as its record; revoking writes a newer version that
// listing and reading by id return.
func TestKeysRevoke(t *testing.T) {
	conn, _ := testenv.Database(t)
	ctx := context.Background()
	k := chsink.KeyRow{ID: "0123456789ab", Hash: "0123456789ab" + "cd", Name: "ci", Tenant: "acme", Role: "ingest",
		CreatedAt: time.Now(), CreatedBy: "cli:x@y"}
	testenv.Must(t, chsink.InsertKey(ctx, conn, k), "insert")
	got, err := chsink.GetKey(ctx, conn, k.ID)
	testenv.Must(t, err, "get")
	if got.Tenant != "acme" || !got.RevokedAt.IsZero() || !got.ExpiresAt.IsZero() {
		t.Fatalf("got %+v", got)
	}
	r, err := chsink.RevokeKey(ctx, conn, k.ID, time.Now())
	testenv.Must(t, err, "revoke")
	if r.RevokedAt.IsZero() {
		t.Fatal("not revoked")
	}
	list, err := chsink.ListKeys(ctx, conn, 10)
	testenv.Must(t, err, "list")
	if len(list) != 1 || list[0].RevokedAt.IsZero() {
		t.Fatalf("list: %+v", list)
	}
	if _, err := chsink.RevokeKey(ctx, conn, "ffffffffffff", time.Now()); !errors.Is(err, chsink.ErrNoKey) {
		t.Fatalf("revoking an unknown key: %v", err)
	}
}
