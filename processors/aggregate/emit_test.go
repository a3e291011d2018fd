package aggregate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sightline-dev/sightline/internal/testenv"
	"github.com/sightline-dev/sightline/processors/detectors"
	"github.com/sightline-dev/sightline/processors/detectors/registry"
	"github.com/sightline-dev/sightline/processors/eventfeatures"
	"github.com/sightline-dev/sightline/processors/window"
	"github.com/sightline-dev/sightline/schemas/eventpb"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

// emitWindows builds n consecutive 10 s windows of one key, 150 events
// each, whose latency and prompts shift from window n/2 on (so drift has
// something to find).
func emitWindows(t *testing.T, k window.Key, start int64, n int) []*window.Partial {
	t.Helper()
	schema, err := registry.Schema(nil)
	testenv.Must(t, err, "schema")
	var out []*window.Partial
	for w := 0; w < n; w++ {
		ws := start + int64(w)*10
		p := window.NewPartial(k, ws, 10, window.DefaultConfig())
		shifted := w >= n/2
		for i := 0; i < 150; i++ {
			lat := 400 + float64((i*37+w*11)%300)
			prompt := fmt.Sprintf("question %d about orders and refunds", i%17)
			if shifted {
				lat *= 3
				prompt = fmt.Sprintf("please translate paragraph %d into german", i%13)
			}
			ev := &eventpb.Event{EventId: fmt.Sprintf("0190c8e4-5a2b-7c3d-8e4f-%06d%06d", w, i),
				Ts:         timestamppb.New(time.Unix(ws+int64(i%10), 0)),
				DurationMs: lat, InputTokens: int64(200 + i%50), OutputTokens: 120, CostUsd: 0.001,
				Prompt:     []*eventpb.Message{{Role: "user", Content: prompt}},
				Completion: []*eventpb.Message{{Role: "assistant", Content: "answer", FinishReason: "stop"}},
				Segments:   map[string]string{"user.locale": []string{"en-US", "de-DE", "fr-FR"}[i%3]}}
			f := eventfeatures.Compute(ev)
			sc := detectors.NewScores(schema)
			sc.Set("completion_toxicity", float64(i%10)/40)
			sc.Set("prompt_injection", 0.05)
			p.Add(ev, &f, &sc)
		}
		out = append(out, p)
	}
	return out
}

// emitStage is a stage that is never run: windows are put in its open set
// and closed by calling emit, the signal rows collected from OnSignals.
func emitStage(t *testing.T, k int) (*Stage, *[]chsink.SignalRow) {
	t.Helper()
	conn, _ := testenv.Database(t)
	return emitStageOn(t, conn, k)
}

// emitStageOn is emitStage on an existing database: a restarted process,
// or another member of the group.
func emitStageOn(t *testing.T, conn driver.Conn, k int) (*Stage, *[]chsink.SignalRow) {
	t.Helper()
	rows := new([]chsink.SignalRow)
	s, err := New(Config{Brokers: []string{"127.0.0.1:1"}, Window: 10 * time.Second, Rollup: -1, BaselineWindows: k,
		RetryMin: 10 * time.Millisecond, RetryMax: 100 * time.Millisecond, Logger: slog.New(slog.DiscardHandler),
		WindowConfig: window.DefaultConfig(), OnSignals: func(_ context.Context, r []chsink.SignalRow) {
			*rows = append(*rows, r...)
		}}, conn, nil)
	testenv.Must(t, err, "aggregate stage")
	t.Cleanup(s.kcl.Close)
	return s, rows
}

func (s *Stage) openForTest(p *window.Partial, off int64) winID {
	id := winID{p.Key, p.WindowSeconds, p.WindowStart}
	s.mu.Lock()
	s.open[id] = &openWin{p: p.Clone(), minOff: map[int32]int64{0: off}}
	s.mu.Unlock()
	return id
}

// failWindows is a connection on which inserts into llm_windows fail.
type failWindows struct{ driver.Conn }

func (c failWindows) PrepareBatch(ctx context.Context, query string, opts ...driver.PrepareBatchOption) (driver.Batch, error) {
	if strings.Contains(query, "llm_windows") {
		return nil, errors.New("llm_windows unavailable (test)")
	}
	return c.Conn.PrepareBatch(ctx, query, opts...)
}

// rowStrings renders signal rows without their version, sorted.
func rowStrings(t *testing.T, rows []chsink.SignalRow) []string {
	t.Helper()
	out := make([]string, 0, len(rows))
	for _, r := range rows {
		b, err := json.Marshal(r.Signal)
		testenv.Must(t, err, "marshal")
		out = append(out, fmt.Sprintf("%s %d/%d corrected=%v %s", keyName(r.Key), r.WindowStart, r.WindowSeconds, r.Corrected, b))
	}
	sort.Strings(out)
	return out
}

// Windows of one key that close in one poll (catch-up after a restart, a
// jump of the watermark, a replay) get the signals they get when they
// close one poll at a time: each window's drift is measured against a
// baseline that holds the earlier windows of the same batch.
func TestEmitBatchSameAsOneAtATime(t *testing.T) {
	k := window.Key{Tenant: "t", App: "search-rag", Model: "m", Variant: "control"}
	for _, c := range []struct{ k, n int }{{1, 4}, {3, 9}} {
		t.Run(fmt.Sprintf("baseline_windows=%d", c.k), func(t *testing.T) {
			ctx := context.Background()
			start := time.Now().Add(-3*time.Hour).Unix() / 30 * 30 // aligned to every block size
			wins := emitWindows(t, k, start, c.n)

			one, oneRows := emitStage(t, c.k)
			for i, p := range wins {
				testenv.Must(t, one.emit(ctx, []winID{one.openForTest(p, int64(i))}), "emit one window")
			}
			batch, batchRows := emitStage(t, c.k)
			var ids []winID
			for i, p := range wins {
				ids = append(ids, batch.openForTest(p, int64(i)))
			}
			// The first attempt stores the signal rows but not the windows
			// (ClickHouse goes away in between): the rolling baselines must
			// not have advanced, so the retry writes the same rows.
			conn := batch.conn
			batch.conn = failWindows{conn}
			fctx, cancel := context.WithTimeout(ctx, time.Second)
			err := batch.emit(fctx, ids)
			cancel()
			if err == nil {
				t.Fatal("emit succeeded without llm_windows")
			}
			batch.conn = conn
			testenv.Must(t, batch.emit(ctx, ids), "emit all windows")

			drift := map[int64]bool{}
			for _, r := range *batchRows {
				if r.Signal.Metric == "drift" {
					drift[r.WindowStart] = true
				}
			}
			// Every window after the first complete block has a baseline.
			for i := c.k; i < c.n; i++ {
				if ws := start + int64(i)*10; !drift[ws] {
					t.Errorf("window %d (start %d) closed in a batch has no drift rows", i, ws)
				}
			}
			want, got := rowStrings(t, *oneRows), rowStrings(t, *batchRows)
			if len(want) != len(got) {
				t.Errorf("one window at a time gives %d signal rows, all at once %d", len(want), len(got))
			}
			diff := 0
			for i := 0; i < len(want) && i < len(got); i++ {
				if want[i] != got[i] {
					if diff < 5 {
						t.Errorf("row %d differs:\none at a time: %s\nall at once:   %s", i, want[i], got[i])
					}
					diff++
				}
			}
			if diff > 0 {
				t.Errorf("%d of %d rows differ", diff, len(want))
			}
		})
	}
}

// diffRows reports the rows of got that differ from want.
func diffRows(t *testing.T, what string, want, got []chsink.SignalRow) {
	t.Helper()
	w, g := rowStrings(t, want), rowStrings(t, got)
	if len(w) != len(g) {
		t.Errorf("%s: %d signal rows, uninterrupted %d", what, len(g), len(w))
	}
	diff := 0
	for i := 0; i < len(w) && i < len(g); i++ {
		if w[i] != g[i] {
			if diff < 3 {
				t.Errorf("%s: row %d differs:\nuninterrupted: %s\n%s: %s", what, i, w[i], what, g[i])
			}
			diff++
		}
	}
	if diff > 0 {
		t.Errorf("%s: %d of %d rows differ", what, diff, len(w))
	}
}

// A restart (a new stage on the same database) between any two windows of
// a key, or a partition that moves to another member and back, gives the
// signal rows of an uninterrupted run: the block being filled when the
// state was lost is reloaded with the windows closed before, not rebuilt
// from the windows closed after only (which made the next block's drift
// compare with part of a block).
func TestRestartMidBlockSameSignals(t *testing.T) {
	const k, n = 3, 9
	key := window.Key{Tenant: "t", App: "search-rag", Model: "m", Variant: "control"}
	ctx := context.Background()
	start := time.Now().Add(-3*time.Hour).Unix() / 30 * 30 // aligned to the block size
	wins := emitWindows(t, key, start, n)

	one, want := emitStage(t, k)
	for i, p := range wins {
		testenv.Must(t, one.emit(ctx, []winID{one.openForTest(p, int64(i))}), "emit one window")
	}

	for cut := 1; cut < n; cut++ {
		for _, batch := range []bool{false, true} {
			t.Run(fmt.Sprintf("restart_after=%d/batch=%v", cut, batch), func(t *testing.T) {
				conn, _ := testenv.Database(t)
				first, rows := emitStageOn(t, conn, k)
				for i, p := range wins[:cut] {
					testenv.Must(t, first.emit(ctx, []winID{first.openForTest(p, int64(i))}), "emit before the restart")
				}
				second, after := emitStageOn(t, conn, k)
				if batch {
					var ids []winID
					for i, p := range wins[cut:] {
						ids = append(ids, second.openForTest(p, int64(cut+i)))
					}
					testenv.Must(t, second.emit(ctx, ids), "emit after the restart")
				} else {
					for i, p := range wins[cut:] {
						testenv.Must(t, second.emit(ctx, []winID{second.openForTest(p, int64(cut+i))}), "emit after the restart")
					}
				}
				diffRows(t, "restarted", *want, append(*rows, *after...))
			})
		}
	}

	// Windows 3 and 4 are closed by this member, 5 and 6 by another one
	// while the partition is away, 7 and 8 by this member again.
	t.Run("partition_away_and_back", func(t *testing.T) {
		conn, _ := testenv.Database(t)
		a, rows := emitStageOn(t, conn, k)
		b, other := emitStageOn(t, conn, k)
		for i, p := range wins {
			s := a
			if i == 5 || i == 6 {
				s = b
			}
			if i == 5 {
				a.onRevoked(ctx, nil, map[string][]int32{a.cfg.Topic: {0}})
			}
			testenv.Must(t, s.emit(ctx, []winID{s.openForTest(p, int64(i))}), "emit")
		}
		diffRows(t, "moved", *want, append(*rows, *other...))
	})
}
