package clickhouse_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sightline-dev/sightline/internal/testenv"
	"github.com/sightline-dev/sightline/processors/eventfeatures"
	"github.com/sightline-dev/sightline/schemas/eventpb"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestMigrateIsIdempotent(t *testing.T) {
	conn, _ := testenv.Database(t) // migrated once already
	res, err := chsink.Migrate(context.Background(), conn)
	testenv.Must(t, err, "second migrate")
	if len(res.Applied) != 0 || res.Current == 0 {
		t.Fatalf("second run applied %v (current %d)", res.Applied, res.Current)
	}
	major, minor, err := chsink.ServerVersion(context.Background(), conn)
	testenv.Must(t, err, "version")
	t.Logf("ClickHouse %d.%d, schema version %d", major, minor, res.Current)
}

// A replayed batch (the same events inserted again after a crash) shows
// once in FINAL queries and the dedup view.
func TestReplayedInsertDeduplicates(t *testing.T) {
	conn, _ := testenv.Database(t)
	ctx := context.Background()
	var rows []chsink.EventRow
	for i := 0; i < 100; i++ {
		ttft := 12.5
		ev := &eventpb.Event{
			SchemaVersion: 1, EventId: fmt.Sprintf("0190c8e4-5a2b-7c3d-8e4f-%012d", i), Tenant: "t", App: "a", Model: "m",
			Ts: timestamppb.New(time.Date(2026, 11, 27, 10, 0, 0, 250_000_000, time.UTC)), DurationMs: 100, TtftMs: &ttft,
			Prompt:     []*eventpb.Message{{Role: "user", Content: "q"}},
			Completion: []*eventpb.Message{{Role: "assistant", Content: "a", FinishReason: "stop"}},
			Segments:   map[string]string{"user.locale": "de-DE", "tier": "pro"},
			Context:    []string{"doc"}, Embedding: []float32{0.1, 0.2},
		}
		rows = append(rows, chsink.EventRow{Event: ev, Features: eventfeatures.Compute(ev), Partition: 0, Offset: int64(i)})
	}
	testenv.Must(t, chsink.InsertEvents(ctx, conn, rows), "insert")
	testenv.Must(t, chsink.InsertEvents(ctx, conn, rows[:60]), "replayed insert")
	var raw, final, view uint64
	testenv.Must(t, conn.QueryRow(ctx, "SELECT count() FROM llm_events").Scan(&raw), "raw")
	testenv.Must(t, conn.QueryRow(ctx, "SELECT count() FROM llm_events FINAL").Scan(&final), "final")
	testenv.Must(t, conn.QueryRow(ctx, "SELECT count() FROM llm_events_dedup").Scan(&view), "view")
	if raw != 160 || final != 100 || view != 100 {
		t.Fatalf("raw %d final %d view %d; want 160/100/100", raw, final, view)
	}
	var locale string
	var tsUS uint32
	var ttft *float64
	testenv.Must(t, conn.QueryRow(ctx, "SELECT segment_values[indexOf(segment_keys, 'user.locale')], ts_us, ttft_ms FROM llm_events FINAL LIMIT 1").Scan(&locale, &tsUS, &ttft), "read back")
	if locale != "de-DE" || tsUS != 250_000 || ttft == nil || *ttft != 12.5 {
		t.Fatalf("read back locale %q ts_us %d ttft %v", locale, tsUS, ttft)
	}
}
