package lifecycle

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sightline-dev/sightline/internal/testenv"
	"github.com/sightline-dev/sightline/processors/eventfeatures"
	"github.com/sightline-dev/sightline/schemas/eventpb"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// call is one stored LLM call of the test data, with its feedback and
// verdict.
type call struct {
	id, tenant, user string
	ts               time.Time
}

var seq int

func eventID() string {
	seq++
	return fmt.Sprintf("0190c8e4-5a2b-7c3d-8e4f-%012d", seq)
}

// writeCalls stores each call in llm_events (twice when replayed: a batch
// re-inserted after a crash, not yet merged away), one feedback row and
// one verdict per call, and one window, alert and job row per call's time
// and tenant (all at the call's time, so each table expires alike), straight through sinks/clickhouse: the schema's validation
// takes calls from 2000 on, but the pipeline would stamp windows and
// alerts with today's time, and the test needs them months old.
func writeCalls(t *testing.T, conn driver.Conn, calls []call, replayed bool) {
	t.Helper()
	ctx := context.Background()
	var events []chsink.EventRow
	var feedback []*eventpb.Event
	var verdicts []chsink.EvaluationRow
	var alerts []chsink.AlertRow
	var jobs []chsink.JobRow
	for i, c := range calls {
		ev := &eventpb.Event{
			SchemaVersion: 1, EventId: c.id, Tenant: c.tenant, App: "support-bot", Model: "m", UserId: c.user,
			ConversationId: "conv-" + c.user, Ts: timestamppb.New(c.ts), DurationMs: 100,
			Prompt:     []*eventpb.Message{{Role: "user", Content: "my order for " + c.user}},
			Completion: []*eventpb.Message{{Role: "assistant", Content: "here it is", FinishReason: "stop"}},
			Attributes: map[string]string{"note": "call " + c.id},
		}
		events = append(events, chsink.EventRow{Event: ev, Features: eventfeatures.Compute(ev), Offset: int64(i)})
		feedback = append(feedback, &eventpb.Event{SchemaVersion: 1, EventId: eventID(), Tenant: c.tenant, App: "support-bot",
			Ts: timestamppb.New(c.ts), Feedback: &eventpb.Feedback{EventId: c.id, Score: 1, Comment: "thanks " + c.user}})
		verdicts = append(verdicts, chsink.EvaluationRow{JobID: "job-1", EventID: c.id, Tenant: c.tenant, App: "support-bot", Model: "m",
			EventTS: c.ts, JudgeModel: "judge", Valid: true, RawResponse: "{}", TS: c.ts.Add(time.Hour)})
		alerts = append(alerts, chsink.AlertRow{AlertID: "a-" + c.id, Rule: "r", Fingerprint: "f", Kind: chsink.AlertKindState, State: "firing",
			Tenant: c.tenant, App: "support-bot", TS: c.ts, Seq: uint64(i)})
		jobs = append(jobs, chsink.JobRow{IdempotencyKey: "k-" + c.id, Tenant: c.tenant, App: "support-bot", TS: c.ts, Seq: uint64(i)})
	}
	testenv.Must(t, chsink.InsertEvents(ctx, conn, events), "insert events")
	if replayed {
		testenv.Must(t, chsink.InsertEvents(ctx, conn, events), "insert events again")
	}
	testenv.Must(t, chsink.InsertFeedback(ctx, conn, feedback), "insert feedback")
	testenv.Must(t, chsink.EvaluationsTable.Insert(ctx, conn, verdicts), "insert verdicts")
	testenv.Must(t, chsink.Alerts.Insert(ctx, conn, alerts), "insert alerts")
	testenv.Must(t, chsink.Jobs.Insert(ctx, conn, jobs), "insert jobs")
	b, err := conn.PrepareBatch(ctx, "INSERT INTO llm_windows (tenant, app, model, variant, window_start, window_seconds, n, partial, computed_at)")
	testenv.Must(t, err, "prepare windows")
	for _, c := range calls {
		testenv.Must(t, b.Append(c.tenant, "support-bot", "m", c.id, c.ts, uint32(60), uint64(1), "partial", c.ts), "append window")
	}
	testenv.Must(t, b.Send(), "insert windows")
}

// tenantTimes lists "tenant time" of every row of a retention table.
func tenantTimes(t *testing.T, conn driver.Conn, table chsink.RetentionTable) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(), "SELECT tenant, "+table.TimeColumn+" FROM "+table.Name)
	testenv.Must(t, err, "read "+table.Name)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var tenant string
		var ts time.Time
		testenv.Must(t, rows.Scan(&tenant, &ts), "scan "+table.Name)
		out = append(out, tenant+" "+ts.UTC().Format(time.DateTime))
	}
	sort.Strings(out)
	return out
}

func count(t *testing.T, conn driver.Conn, q string, args ...any) uint64 {
	t.Helper()
	var n uint64
	testenv.Must(t, conn.QueryRow(context.Background(), q, args...).Scan(&n), q)
	return n
}

// stringColumns lists table.column of every String, Nullable(String) and
// Array(String) column of every table in the test database.
func stringColumns(t *testing.T, conn driver.Conn) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(), `SELECT c.table, c.name, c.type FROM system.columns AS c
WHERE c.database = currentDatabase() AND c.type IN ('String', 'Nullable(String)', 'Array(String)')
AND c.table IN (SELECT name FROM system.tables WHERE database = currentDatabase() AND engine NOT LIKE '%View%')
ORDER BY c.table, c.name`)
	testenv.Must(t, err, "list columns")
	defer rows.Close()
	var out []string
	for rows.Next() {
		var table, name, typ string
		testenv.Must(t, rows.Scan(&table, &name, &typ), "scan columns")
		out = append(out, table+"."+name+"."+typ)
	}
	return out
}

// findString counts, per table.column, the rows in which s occurs
// anywhere in a String column of any table of the test database.
func findString(t *testing.T, conn driver.Conn, s string) map[string]uint64 {
	t.Helper()
	found := map[string]uint64{}
	for _, col := range stringColumns(t, conn) {
		parts := strings.SplitN(col, ".", 3)
		cond := "position(" + parts[1] + ", ?) > 0"
		if parts[2] == "Array(String)" {
			cond = "arrayExists(x -> position(x, ?) > 0, " + parts[1] + ")"
		} else if parts[2] == "Nullable(String)" {
			cond = "position(ifNull(" + parts[1] + ", ''), ?) > 0"
		}
		if n := count(t, conn, "SELECT count() FROM "+parts[0]+" WHERE "+cond, s); n > 0 {
			found[parts[0]+"."+parts[1]] = n
		}
	}
	return found
}
