package lifecycle

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sightline-dev/sightline/internal/testenv"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

// userData writes calls of three users over eight months: the user to
// forget in tenant acme (each call stored twice, as after a replay), an
// other user of acme, and the same user id in tenant other (another
// person: tenants never share users). It returns the forgotten user's
// call ids.
func userData(t *testing.T, conn driver.Conn, user string) []string {
	t.Helper()
	now := time.Now().UTC()
	var mine, rest []call
	var ids []string
	for m := 0; m < 8; m++ {
		ts := now.Add(-time.Duration(m) * 30 * day)
		c := call{id: eventID(), tenant: "acme", user: user, ts: ts}
		mine = append(mine, c)
		ids = append(ids, c.id)
		rest = append(rest, call{id: eventID(), tenant: "acme", user: "u-other", ts: ts},
			call{id: eventID(), tenant: "other", user: user, ts: ts.Add(time.Hour)})
	}
	writeCalls(t, conn, mine, true)
	writeCalls(t, conn, rest, false)
	return ids
}

// tableCounts counts the rows of every table that holds calls or what
// derives from them, per tenant.
func tableCounts(t *testing.T, conn driver.Conn, tenant string) map[string]uint64 {
	out := map[string]uint64{}
	for _, table := range chsink.RetentionTables {
		out[table.Name] = count(t, conn, "SELECT count() FROM "+table.Name+" WHERE tenant = ?", tenant)
	}
	return out
}

// After forget, no row of the user remains in any table that has a user
// column or refers to the user's calls (every table is asked, not a list:
// a new table with such a column fails this test until forget covers it),
// the user id is nowhere in the database (every String column of every
// table, and the mutations ClickHouse keeps), the other users' rows are all
// there, and the audit trail records the deletion by a hash.
func TestForgetDeletesEveryRowOfTheUser(t *testing.T) {
	conn, _ := testenv.Database(t)
	ctx := context.Background()
	user := "jane.doe.4711@example.org"
	ids := userData(t, conn, user)
	otherTenant := tableCounts(t, conn, "other")
	otherUser := count(t, conn, "SELECT count() FROM llm_events WHERE user_id = 'u-other'")
	acme := tableCounts(t, conn, "acme")

	rep, err := Forget(ctx, conn, "acme", user, ForgetOptions{Audit: chsink.AuditRow{Actor: chsink.CLIActor()}, Poll: 50 * time.Millisecond})
	testenv.Must(t, err, "forget")
	t.Logf("report: %+v", rep)
	want := map[string]uint64{"llm_events": 16, "llm_feedback": 8, "llm_evaluations": 8}
	if !rep.Verified || len(rep.Tables) != len(want) {
		t.Fatalf("report %+v", rep)
	}
	for _, tc := range rep.Tables {
		if tc.Rows != want[tc.Table] || tc.Remaining != 0 {
			t.Errorf("%s: deleted %d, %d remaining; want %d deleted", tc.Table, tc.Rows, tc.Remaining, want[tc.Table])
		}
	}

	// Every table with a user column, and every column holding call ids.
	rows, err := conn.Query(ctx, `SELECT table, name FROM system.columns WHERE database = currentDatabase()
AND (name LIKE '%user%' OR name IN ('event_id', 'target_event_id'))
AND table IN (SELECT name FROM system.tables WHERE database = currentDatabase() AND engine NOT LIKE '%View%')`)
	testenv.Must(t, err, "columns")
	var userCols, idCols []string
	for rows.Next() {
		var table, col string
		testenv.Must(t, rows.Scan(&table, &col), "scan")
		if strings.Contains(col, "user") {
			userCols = append(userCols, table+"."+col)
			if n := count(t, conn, "SELECT count() FROM "+table+" WHERE tenant = 'acme' AND "+col+" = ?", user); n != 0 {
				t.Errorf("%s.%s: %d rows of the user remain", table, col, n)
			}
		} else {
			idCols = append(idCols, table+"."+col)
			if n := count(t, conn, "SELECT count() FROM "+table+" WHERE has(?, "+col+")", ids); n != 0 {
				t.Errorf("%s.%s: %d rows refer to the user's calls", table, col, n)
			}
		}
	}
	rows.Close()
	if len(userCols) == 0 || len(idCols) < 3 {
		t.Fatalf("found user columns %v and call id columns %v: the test looks at nothing", userCols, idCols)
	}
	for _, uc := range userCols {
		if uc != "llm_events.user_id" {
			t.Errorf("%s holds user ids, and forget does not delete from it", uc)
		}
	}
	t.Logf("asked %v and %v", userCols, idCols)

	// The same id in tenant other is another person's: all there, and
	// the only place the string occurs (writeCalls puts it in the user
	// id, conversation id, prompt and feedback comment of each call).
	found := findString(t, conn, user)
	wantFound := map[string]uint64{"llm_events.user_id": 8, "llm_events.conversation_id": 8, "llm_events.prompt_contents": 8, "llm_feedback.comment": 8}
	if !equalCounts(found, wantFound) {
		t.Errorf("the user id occurs in %v; want only tenant other's calls: %v", found, wantFound)
	}
	if n := count(t, conn, "SELECT count() FROM llm_events WHERE tenant = 'other' AND user_id = ?", user); n != 8 {
		t.Errorf("tenant other keeps %d of its 8 calls of that user id", n)
	}
	if n := count(t, conn, "SELECT count() FROM system.mutations WHERE database = currentDatabase() AND position(command, ?) > 0", user); n != 0 {
		t.Errorf("%d mutations name the user", n)
	}
	if n := count(t, conn, "SELECT count() FROM system.mutations WHERE database = currentDatabase() AND position(command, ?) > 0", rep.RequestID); n != 3 {
		t.Errorf("%d mutations name the request, want 3", n)
	}
	if n := count(t, conn, "SELECT count() FROM llm_forget"); n != 0 {
		t.Errorf("the snapshot kept %d ids", n)
	}

	// Other users: every row still there.
	if got := tableCounts(t, conn, "other"); !equalCounts(got, otherTenant) {
		t.Errorf("tenant other: %v, was %v", got, otherTenant)
	}
	if n := count(t, conn, "SELECT count() FROM llm_events WHERE user_id = 'u-other'"); n != otherUser {
		t.Errorf("the other user of acme keeps %d of %d calls", n, otherUser)
	}
	after := tableCounts(t, conn, "acme")
	for table, n := range acme {
		// Windows, alerts and jobs are not per user; events lose the
		// user's 16 copies, feedback and verdicts 8 rows.
		if d := n - after[table]; d != want[table] {
			t.Errorf("acme %s: %d rows gone, want %d", table, d, want[table])
		}
	}

	audit, err := chsink.ReadAudit(ctx, conn, chsink.AuditFilter{Range: chsink.Range{Since: time.Now().Add(-time.Hour), Until: time.Now().Add(time.Hour), Limit: 10}})
	testenv.Must(t, err, "read audit")
	if len(audit) != 1 || audit[0].Action != chsink.AuditForget || audit[0].Target != chsink.AuditUserTarget("acme", user) ||
		audit[0].Outcome != chsink.AuditOK || !strings.Contains(audit[0].Detail, `"llm_events":16`) || strings.Contains(audit[0].Detail, user) {
		t.Fatalf("audit trail %+v", audit)
	}

	// Forgetting again finds nothing and says so.
	rep, err = Forget(ctx, conn, "acme", user, ForgetOptions{Poll: 50 * time.Millisecond})
	testenv.Must(t, err, "forget again")
	if !rep.Verified || rep.Total() != 0 {
		t.Fatalf("second forget %+v", rep)
	}
}

func equalCounts(a, b map[string]uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// Calls of the user stored while forget runs are deleted in another
// round; a user who keeps calling is reported, not hidden.
func TestForgetCatchesCallsStoredMeanwhile(t *testing.T) {
	conn, _ := testenv.Database(t)
	ctx := context.Background()
	userData(t, conn, "u-busy")
	// A mutation only sees the parts that existed when it was made: a
	// call stored after the first round's snapshot is deleted by the
	// second round.
	first := true
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for first {
			select {
			case <-stop:
				return
			default:
			}
			if count(t, conn, "SELECT count() FROM llm_forget") > 0 {
				writeCalls(t, conn, []call{{id: eventID(), tenant: "acme", user: "u-busy", ts: time.Now().UTC()}}, false)
				first = false
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	rep, err := Forget(ctx, conn, "acme", "u-busy", ForgetOptions{Poll: 50 * time.Millisecond})
	close(stop)
	<-done
	testenv.Must(t, err, "forget")
	if first {
		t.Fatal("no call was written while forget ran")
	}
	if !rep.Verified || rep.Tables[0].Rows != 17 || count(t, conn, "SELECT count() FROM llm_events WHERE tenant = 'acme' AND user_id = 'u-busy'") != 0 {
		t.Fatalf("report %+v", rep)
	}
}

func TestForgetAndExportRefuseEmptyIDs(t *testing.T) {
	conn, _ := testenv.Database(t)
	for _, tc := range [][2]string{{"", "u"}, {"acme", ""}, {"acme", "   "}, {"acme", strings.Repeat("x", 2000)}, {"acme", "\xff"}} {
		if _, err := Forget(context.Background(), conn, tc[0], tc[1], ForgetOptions{}); !errors.Is(err, ErrBadRequest) {
			t.Errorf("forget %q: %v", tc, err)
		}
		if _, err := Export(context.Background(), conn, tc[0], tc[1], &bytes.Buffer{}, chsink.AuditRow{}); !errors.Is(err, ErrBadRequest) {
			t.Errorf("export %q: %v", tc, err)
		}
	}
}

// Export writes every row of the user once (the replayed copies merged)
// as JSON lines that name their table, nothing of the other users, and
// audits the export before the first line.
func TestExportWritesTheUsersRows(t *testing.T) {
	conn, _ := testenv.Database(t)
	ctx := context.Background()
	user := "u-export"
	ids := userData(t, conn, user)
	var out bytes.Buffer
	rep, err := Export(ctx, conn, "acme", user, &out, chsink.AuditRow{Actor: "key-1", ActorRole: "admin", RemoteAddr: "127.0.0.1:1"})
	testenv.Must(t, err, "export")
	perTable := map[string]int{}
	seen := map[string]bool{}
	sc := bufio.NewScanner(&out)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line struct {
			Table string                     `json:"table"`
			Row   map[string]json.RawMessage `json:"row"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		perTable[line.Table]++
		var tenant string
		json.Unmarshal(line.Row["tenant"], &tenant)
		if tenant != "acme" {
			t.Errorf("%s row of tenant %q", line.Table, tenant)
		}
		switch line.Table {
		case "llm_events":
			var id, uid string
			var prompts []string
			json.Unmarshal(line.Row["event_id"], &id)
			json.Unmarshal(line.Row["user_id"], &uid)
			json.Unmarshal(line.Row["prompt_contents"], &prompts)
			if uid != user || len(prompts) != 1 || prompts[0] != "my order for "+user || seen[id] {
				t.Errorf("event row %s: user %q, prompts %q, seen before %v", id, uid, prompts, seen[id])
			}
			seen[id] = true
			if string(line.Row["ttft_ms"]) != "null" || !strings.HasSuffix(string(line.Row["ts"]), `Z"`) {
				t.Errorf("ttft_ms %s, ts %s", line.Row["ttft_ms"], line.Row["ts"])
			}
		case "llm_feedback":
			var comment string
			json.Unmarshal(line.Row["comment"], &comment)
			if comment != "thanks "+user {
				t.Errorf("feedback comment %q", comment)
			}
		}
	}
	if len(seen) != len(ids) || perTable["llm_events"] != 8 || perTable["llm_feedback"] != 8 || perTable["llm_evaluations"] != 8 || len(perTable) != 3 {
		t.Fatalf("exported %v (%d distinct calls)", perTable, len(seen))
	}
	if rep.Total() != 24 {
		t.Fatalf("report %+v", rep)
	}
	audit, err := chsink.ReadAudit(ctx, conn, chsink.AuditFilter{Range: chsink.Range{Since: time.Now().Add(-time.Hour), Until: time.Now().Add(time.Hour), Limit: 10}})
	testenv.Must(t, err, "read audit")
	if len(audit) != 1 || audit[0].Action != chsink.AuditExport || audit[0].Actor != "key-1" || audit[0].Target != chsink.AuditUserTarget("acme", user) ||
		!strings.Contains(audit[0].Detail, `"llm_events":8`) {
		t.Fatalf("audit trail %+v", audit)
	}
}
