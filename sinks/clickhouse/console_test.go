package clickhouse_test

import (
	"context"
	"fmt"
	"math"
	"sort"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sightline-dev/sightline/internal/testenv"
	"github.com/sightline-dev/sightline/processors/eventfeatures"
	"github.com/sightline-dev/sightline/processors/window"
	"github.com/sightline-dev/sightline/schemas/eventpb"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

func ttft(i int) *float64 {
	if i%2 == 0 {
		return nil
	}
	v := float64(20 + i%5)
	return &v
}

// consoleEvents inserts n events of app "a" one second apart from t0
// (latency and toxicity vary so every sort has ties and order), then the
// first 40 again as a replay would.
func consoleEvents(t *testing.T, n int, t0 time.Time) []chsink.EventRow {
	t.Helper()
	var rows []chsink.EventRow
	for i := 0; i < n; i++ {
		ev := &eventpb.Event{
			SchemaVersion: 1, EventId: fmt.Sprintf("0190c8e4-5a2b-7c3d-8e4f-%012d", i), Tenant: "t", App: "a", Model: "m",
			Variant: []string{"control", "v2"}[i%2], Environment: "prod",
			Ts:         timestamppb.New(t0.Add(time.Duration(i) * time.Second).Add(time.Duration(i%7) * time.Millisecond)),
			DurationMs: float64(100 + i%10), TtftMs: ttft(i), ConversationId: fmt.Sprintf("c%d", i%5), UserId: "u",
			Prompt:     []*eventpb.Message{{Role: "user", Content: "question"}},
			Completion: []*eventpb.Message{{Role: "assistant", Content: "answer"}},
			Segments:   map[string]string{"user.locale": []string{"de-DE", "hi-IN"}[i%2]},
		}
		r := chsink.EventRow{Event: ev, Features: eventfeatures.Compute(ev), Offset: int64(i)}
		if i%3 != 0 { // some calls have no toxicity score (NULL sorts last)
			r.Scores = defaultScores(t)
			r.Scores.Set("completion_toxicity", float64(i%4)/4)
		}
		rows = append(rows, r)
	}
	return rows
}

// Keyset pages over every sort and direction list each call exactly once,
// in order, although the table holds replayed copies (no FINAL).
func TestListCallsPagesEveryCallOnce(t *testing.T) {
	conn, _ := testenv.Database(t)
	ctx := context.Background()
	t0 := time.Now().Add(-time.Hour).Truncate(time.Minute)
	rows := consoleEvents(t, 120, t0)
	testenv.Must(t, chsink.InsertEvents(ctx, conn, rows), "insert")
	testenv.Must(t, chsink.InsertEvents(ctx, conn, rows[:40]), "replayed insert")
	scope := chsink.ConsoleScope{Tenant: "t", From: t0.Add(-time.Minute), To: t0.Add(time.Hour)}
	for _, s := range chsink.CallSorts() {
		for _, asc := range []bool{false, true} {
			q := chsink.CallQuery{Scope: scope, Sort: s, Ascending: asc, Limit: 25}
			var got []chsink.CallSummary
			for page := 0; ; page++ {
				if page > 20 {
					t.Fatalf("%s asc=%v: no end after 20 pages", s, asc)
				}
				calls, more, err := chsink.ListCalls(ctx, conn, q)
				testenv.Must(t, err, "list")
				got = append(got, calls...)
				if !more {
					break
				}
				last := calls[len(calls)-1]
				q.After = &chsink.CallCursor{Value: last.SortValue, EventID: last.EventID}
			}
			seen := map[string]int{}
			for _, c := range got {
				seen[c.EventID]++
			}
			if len(got) != 120 || len(seen) != 120 {
				t.Fatalf("%s asc=%v: %d rows, %d distinct calls; want 120 once each", s, asc, len(got), len(seen))
			}
			ordered := sort.SliceIsSorted(got, func(i, j int) bool {
				a, b := got[i], got[j]
				if a.SortValue != b.SortValue {
					return (a.SortValue < b.SortValue) == asc
				}
				return (a.EventID < b.EventID) == asc
			})
			if !ordered {
				t.Fatalf("%s asc=%v: pages out of order", s, asc)
			}
		}
	}
	pts, total, err := chsink.OverviewCalls(ctx, conn, scope, "prod", 60)
	testenv.Must(t, err, "overview")
	var sum uint64
	for _, p := range pts {
		sum += p.Calls
	}
	if sum != 160 || total.Calls != 160 || total.P50 < 99 || total.P50 > 110 || total.TTFTP50 == nil || *total.TTFTP50 < 20 || *total.TTFTP50 > 24 {
		t.Fatalf("overview counts %d calls (totals %+v); want the 160 rows stored", sum, total)
	}
	// Filters: variant, segment, minimum toxicity, conversation.
	f := 0.5
	calls, _, err := chsink.ListCalls(ctx, conn, chsink.CallQuery{Scope: chsink.ConsoleScope{Tenant: "t", Variant: "v2",
		From: scope.From, To: scope.To}, SegmentKey: "user.locale", SegmentValue: "hi-IN", MinToxicity: &f, Limit: 200})
	testenv.Must(t, err, "filtered")
	for _, c := range calls {
		if c.Variant != "v2" || c.CompletionToxicity == nil || *c.CompletionToxicity < 0.5 {
			t.Fatalf("filter let through %+v", c)
		}
	}
	if len(calls) == 0 {
		t.Fatal("filter matched nothing")
	}
	d, err := chsink.GetCall(ctx, conn, "t", "a", rows[7].Event.EventId)
	testenv.Must(t, err, "get")
	if d == nil || d.PromptContents[0] != "question" || d.CompletionContents[0] != "answer" || d.ConversationID != "c2" {
		t.Fatalf("detail %+v", d)
	}
	if d2, err := chsink.GetCall(ctx, conn, "", "", rows[7].Event.EventId); err != nil || d2 == nil || d2.EventID != d.EventID {
		t.Fatalf("detail by id alone: %v %v", d2, err)
	}
	if none, err := chsink.GetCall(ctx, conn, "t", "a", "no-such-call"); none != nil || err != nil {
		t.Fatalf("missing call: %v %v", none, err)
	}
	conv, err := chsink.ConversationCalls(ctx, conn, "t", "a", "c2", d.TS, 100)
	testenv.Must(t, err, "conversation")
	if len(conv) != 24 {
		t.Fatalf("conversation c2 has %d calls, want 24 (once each)", len(conv))
	}
}

// The signal reads deduplicate versions: a corrected window's newest rows
// win, so a flag it no longer carries is not listed.
func TestConsoleSignalReads(t *testing.T) {
	conn, _ := testenv.Database(t)
	ctx := context.Background()
	t0 := time.Now().Add(-time.Hour).Truncate(time.Minute)
	key := window.Key{Tenant: "t", App: "a", Model: "m", Variant: "control"}
	var rows []chsink.SignalRow
	for i := 0; i < 6; i++ {
		ws := t0.Add(time.Duration(i) * time.Minute).Unix()
		p := 0.001
		rows = append(rows,
			chsink.SignalRow{Key: key, WindowStart: ws, WindowSeconds: 60, Signal: window.Signal{Name: "events", Metric: "count", Value: 100, N: 100}},
			chsink.SignalRow{Key: key, WindowStart: ws, WindowSeconds: 60, Signal: window.Signal{Name: "toxicity", Metric: "rate",
				Value: 0.1, N: 100, Lo: 0.05, Hi: 0.17}},
			chsink.SignalRow{Key: key, WindowStart: ws, WindowSeconds: 60, Signal: window.Signal{Name: "latency_ms", Metric: "p50",
				Value: float64(100 * (i + 1)), N: 100, Lo: math.NaN(), Hi: math.NaN()}},
			chsink.SignalRow{Key: key, WindowStart: ws, WindowSeconds: 60, Signal: window.Signal{Name: "latency_ms", Metric: "drift",
				Value: 1, N: 100, Lo: math.NaN(), Hi: math.NaN(), PValue: &p, Decision: i >= 3, Baseline: "rolling:3",
				Details: map[string]any{"psi": 0.5}}},
		)
	}
	old := time.Now().Add(-time.Minute)
	for i := range rows {
		rows[i].ComputedAt = old
	}
	testenv.Must(t, chsink.InsertSignals(ctx, conn, rows), "insert")
	// Window 5 is corrected: no longer drifted.
	fix := rows[len(rows)-1]
	fix.Signal.Decision, fix.ComputedAt = false, time.Now()
	testenv.Must(t, chsink.InsertSignals(ctx, conn, []chsink.SignalRow{fix}), "correction")

	scope := chsink.ConsoleScope{From: t0, To: t0.Add(time.Hour)}
	keys, err := chsink.SignalKeyWindows(ctx, conn, scope)
	testenv.Must(t, err, "keys")
	if len(keys) != 1 || keys[0].Seconds != 60 || keys[0].Calls != 600 || keys[0].Windows != 6 {
		t.Fatalf("keys %+v", keys)
	}
	// Until the versions merge, the corrected window 5 still lists its
	// flag (once); the per-key read below is exact.
	flagged, err := chsink.FlaggedSignals(ctx, conn, scope, 10)
	testenv.Must(t, err, "flagged")
	if len(flagged) != 3 || !flagged[0].WindowStart.Equal(t0.Add(5*time.Minute)) || !flagged[2].WindowStart.Equal(t0.Add(3*time.Minute)) {
		t.Fatalf("flagged %+v; want windows 5, 4 and 3", flagged)
	}
	ks := chsink.ConsoleScope{Tenant: "t", App: "a", Model: "m", Variant: "control", From: t0, To: t0.Add(time.Hour)}
	drift, err := chsink.KeySignals(ctx, conn, ks, 60, chsink.ViewDrift, time.Time{}, 100)
	testenv.Must(t, err, "drift")
	if len(drift) != 6 || drift[5].Decision || !drift[4].Decision || drift[4].Details == "" || drift[4].Baseline != "rolling:3" {
		t.Fatalf("drift rows %+v", drift)
	}
	rates, err := chsink.KeySignals(ctx, conn, ks, 60, chsink.ViewRates, t0.Add(2*time.Minute), 100)
	testenv.Must(t, err, "rates")
	if len(rates) != 1 || rates[0].Lo == nil || *rates[0].Lo != 0.05 {
		t.Fatalf("rates at one window %+v", rates)
	}
	stamp, err := chsink.LiveStamp(ctx, conn, "")
	testenv.Must(t, err, "stamp")
	other, err := chsink.LiveStamp(ctx, conn, "another-tenant")
	testenv.Must(t, err, "stamp of another tenant")
	testenv.Must(t, chsink.InsertEvents(ctx, conn, consoleEvents(t, 1, t0)), "a new call")
	if again, err := chsink.LiveStamp(ctx, conn, ""); err != nil || again == stamp {
		t.Fatalf("stamp %q unchanged by a new call (%v)", again, err)
	}
	// Another tenant's stamp does not move: its readers learn nothing of
	// this tenant's traffic.
	if again, err := chsink.LiveStamp(ctx, conn, "another-tenant"); err != nil || again != other {
		t.Fatalf("another tenant's stamp moved from %q to %q (%v)", other, again, err)
	}
}

// The synthetic filler makes what it says: n calls over the span, every
// signal row of each key-window, on keys the calls share.
func TestFillSynthetic(t *testing.T) {
	conn, _ := testenv.Database(t)
	ctx := context.Background()
	to := time.Now().Truncate(time.Minute)
	testenv.Must(t, chsink.FillSynthetic(ctx, conn, 20000, 400, 60, 24*time.Hour, to), "fill")
	var calls, keys, keyWindows, rows uint64
	testenv.Must(t, conn.QueryRow(ctx, "SELECT count(), uniqExact(tenant, app, model, variant) FROM llm_events").Scan(&calls, &keys), "calls")
	testenv.Must(t, conn.QueryRow(ctx, `SELECT uniqExact(tenant, app, model, variant, window_start), count() FROM llm_signals`).Scan(&keyWindows, &rows), "signals")
	t.Logf("%d calls on %d keys; %d key-windows, %d signal rows (%.0f per key-window)", calls, keys, keyWindows, rows, float64(rows)/float64(keyWindows))
	if calls != 20000 || keys != uint64(chsink.SyntheticKeys()) || keyWindows != 400 || rows < 300*400 {
		t.Fatalf("filled %d calls on %d keys, %d key-windows, %d rows", calls, keys, keyWindows, rows)
	}
	scope := chsink.ConsoleScope{From: to.Add(-24 * time.Hour), To: to.Add(time.Minute)}
	page, _, err := chsink.ListCalls(ctx, conn, chsink.CallQuery{Scope: scope, Sort: chsink.SortTime, Limit: 50})
	testenv.Must(t, err, "list")
	if len(page) != 50 {
		t.Fatalf("a page of synthetic calls has %d rows", len(page))
	}
	firing, err := chsink.AlertSeries(ctx, conn, chsink.ConsoleScope{}, true, 100)
	testenv.Must(t, err, "alerts")
	if len(firing) != chsink.SyntheticKeys() {
		t.Fatalf("%d firing series", len(firing))
	}
}
