package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sightline-dev/sightline/internal/auth"
	"github.com/sightline-dev/sightline/internal/lifecycle"
	"github.com/sightline-dev/sightline/internal/server"
	"github.com/sightline-dev/sightline/internal/testenv"
	"github.com/sightline-dev/sightline/processors/eventfeatures"
	"github.com/sightline-dev/sightline/schemas/eventpb"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

// The forget and export endpoints on a real ClickHouse: an admin key of
// the tenant exports and then forgets a user, the audit trail names the
// key; everything else is refused with the status and a JSON error, and
// refused requests delete nothing.
func TestLifecycleAPI(t *testing.T) {
	conn, _ := testenv.Database(t)
	ctx := context.Background()
	var rows []chsink.EventRow
	for i, u := range []string{"u-1", "u-1", "u-1", "u-2"} {
		ev := &eventpb.Event{SchemaVersion: 1, EventId: "0190c8e4-5a2b-7c3d-8e4f-00000000000" + string(rune('0'+i)), Tenant: "acme", App: "a",
			Model: "m", UserId: u, Ts: timestamppb.New(time.Now().Add(-time.Duration(i) * 40 * 24 * time.Hour)),
			Prompt: []*eventpb.Message{{Role: "user", Content: "hello from " + u}}}
		rows = append(rows, chsink.EventRow{Event: ev, Features: eventfeatures.Compute(ev)})
	}
	testenv.Must(t, chsink.InsertEvents(ctx, conn, rows), "insert")

	var as *auth.Principal // the principal the guard would have put in the context
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if as != nil {
			r = r.WithContext(auth.NewContext(r.Context(), *as))
		}
		server.LifecycleHandler(conn).ServeHTTP(w, r)
	}))
	defer srv.Close()
	post := func(op, body string) (int, string) {
		t.Helper()
		resp, err := http.Post(srv.URL+server.LifecyclePath+op, "application/json", strings.NewReader(body))
		testenv.Must(t, err, "post")
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	users := func() uint64 {
		var n uint64
		testenv.Must(t, conn.QueryRow(ctx, "SELECT count() FROM llm_events WHERE user_id = 'u-1'").Scan(&n), "count")
		return n
	}

	admin := auth.Principal{KeyID: "k-admin", Name: "ops", Tenant: "acme", Role: auth.RoleAdmin}
	reader := auth.Principal{KeyID: "k-read", Tenant: "acme", Role: auth.RoleRead}
	otherAdmin := auth.Principal{KeyID: "k-beta", Tenant: "beta", Role: auth.RoleAdmin}
	for _, tc := range []struct {
		name   string
		as     *auth.Principal
		op     string
		body   string
		status int
		want   string
	}{
		{"no guard ran", nil, "forget", `{"tenant":"acme","user_id":"u-1"}`, 401, "no authentication"},
		{"a read key", &reader, "forget", `{"tenant":"acme","user_id":"u-1"}`, 403, "admin key"},
		{"a read key exporting", &reader, "export", `{"tenant":"acme","user_id":"u-1"}`, 403, "admin key"},
		{"another tenant's admin", &otherAdmin, "forget", `{"tenant":"acme","user_id":"u-1"}`, 403, "not for that tenant"},
		{"another tenant's admin exporting", &otherAdmin, "export", `{"tenant":"acme","user_id":"u-1"}`, 403, "not for that tenant"},
		{"no user", &admin, "forget", `{"tenant":"acme"}`, 400, "user id must not be empty"},
		{"the user id in the query", &admin, "forget?user_id=u-1", `{"tenant":"acme"}`, 400, "user id must not be empty"},
		{"unknown field", &admin, "forget", `{"tenant":"acme","user":"u-1"}`, 400, "unknown field"},
		{"not JSON", &admin, "export", `tenant=acme`, 400, "cannot read the request"},
		{"no such endpoint", &admin, "erase", `{}`, 404, "no such endpoint"},
	} {
		as = tc.as
		status, body := post(tc.op, tc.body)
		if status != tc.status || !strings.Contains(body, tc.want) || !json.Valid([]byte(body)) {
			t.Errorf("%s: %d %s; want %d mentioning %q", tc.name, status, body, tc.status, tc.want)
		}
	}
	resp, err := http.Get(srv.URL + server.LifecyclePath + "export")
	testenv.Must(t, err, "get")
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET answered %d", resp.StatusCode)
	}
	if n := users(); n != 3 {
		t.Fatalf("refused requests left %d of u-1's 3 calls", n)
	}

	as = &admin
	status, body := post("export", `{"tenant":"acme","user_id":"u-1"}`)
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(nil, 1<<20)
	lines := 0
	for sc.Scan() {
		if !strings.HasPrefix(sc.Text(), `{"table":"llm_events","row":{"event_id":`) || !strings.Contains(sc.Text(), `"hello from u-1"`) {
			t.Errorf("export line %s", sc.Text())
		}
		lines++
	}
	if status != 200 || lines != 3 {
		t.Fatalf("export: %d, %d lines:\n%s", status, lines, body)
	}

	status, body = post("forget", `{"tenant":"acme","user_id":"u-1"}`)
	var rep lifecycle.Report
	if err := json.Unmarshal([]byte(body), &rep); err != nil || status != 200 || !rep.Verified || rep.Tables[0].Rows != 3 || strings.Contains(body, "u-1") {
		t.Fatalf("forget: %d %s", status, body)
	}
	if n := users(); n != 0 {
		t.Fatalf("%d calls of u-1 left", n)
	}
	var others uint64
	testenv.Must(t, conn.QueryRow(ctx, "SELECT count() FROM llm_events WHERE user_id = 'u-2'").Scan(&others), "count")
	if others != 1 {
		t.Fatalf("u-2 keeps %d of 1 call", others)
	}
	audit, err := chsink.ReadAudit(ctx, conn, chsink.AuditFilter{Range: chsink.Range{Since: time.Now().Add(-time.Hour), Until: time.Now().Add(time.Hour), Limit: 10}})
	testenv.Must(t, err, "audit")
	if len(audit) != 2 || audit[0].Action != chsink.AuditExport || audit[1].Action != chsink.AuditForget {
		t.Fatalf("audit %+v", audit)
	}
	for _, a := range audit {
		if a.Actor != "k-admin" || a.ActorName != "ops" || a.ActorTenant != "acme" || a.ActorRole != "admin" || a.RemoteAddr == "" ||
			a.Target != chsink.AuditUserTarget("acme", "u-1") {
			t.Errorf("audit row %+v", a)
		}
	}
}
