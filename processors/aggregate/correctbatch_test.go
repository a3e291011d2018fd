package aggregate

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sightline-dev/sightline/internal/testenv"
	"github.com/sightline-dev/sightline/processors/window"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

// Late partials for windows of one key in consecutive baseline blocks give
// the same corrected signals whether they arrive in one poll or in two:
// the later window's baseline holds the earlier window's late events in
// both cases, whether its block is in memory or is reloaded from
// llm_windows.
func TestCorrectBatchSameAsOneAtATime(t *testing.T) {
	key := window.Key{Tenant: "t", App: "search-rag", Model: "m", Variant: "control"}
	for _, c := range []struct {
		k, n int
		late [2]int // windows that get late events, in consecutive blocks
	}{
		{1, 4, [2]int{2, 3}}, // both blocks in memory
		{2, 6, [2]int{3, 4}}, // block 1 in memory
		{2, 6, [2]int{1, 2}}, // block 0 forgotten: reloaded for window 2
	} {
		t.Run(fmt.Sprintf("baseline_windows=%d/late=%d,%d", c.k, c.late[0], c.late[1]), func(t *testing.T) {
			ctx := context.Background()
			start := time.Now().Add(-3*time.Hour).Unix() / 30 * 30 // aligned to every block size
			wins := emitWindows(t, key, start, c.n)
			// Shifted events (emitWindows with n = 1), so the earlier
			// window's late events move the later window's drift.
			late := map[winID]*window.Partial{}
			var ids []winID
			for _, w := range c.late {
				ws := start + int64(w)*10
				id := winID{key, 10, ws}
				late[id] = emitWindows(t, key, ws, 1)[0]
				ids = append(ids, id)
			}
			// closed closes every window one poll at a time.
			closed := func() (*Stage, *[]chsink.SignalRow) {
				s, rows := emitStage(t, c.k)
				for i, p := range wins {
					testenv.Must(t, s.emit(ctx, []winID{s.openForTest(p, int64(i))}), "emit one window")
				}
				return s, rows
			}
			correctWith := func(s *Stage, ids ...winID) {
				s.mu.Lock()
				for _, id := range ids {
					s.late[id] = late[id].Clone()
				}
				s.mu.Unlock()
				testenv.Must(t, s.correct(ctx), "correct")
			}

			one, want := closed()
			for _, id := range ids {
				correctWith(one, id)
			}

			batch, got := closed()
			// The first attempt stores the signal rows but not the windows:
			// the rolling baselines must not have taken the late events, so
			// the retry writes the same rows.
			batch.mu.Lock()
			for _, id := range ids {
				batch.late[id] = late[id].Clone()
			}
			batch.mu.Unlock()
			conn := batch.conn
			batch.conn = failWindows{conn}
			fctx, cancel := context.WithTimeout(ctx, time.Second)
			err := batch.correct(fctx)
			cancel()
			if err == nil {
				t.Fatal("correct succeeded without llm_windows")
			}
			batch.conn = conn
			testenv.Must(t, batch.correct(ctx), "correct both windows")

			corrected := 0
			for _, r := range *got {
				if r.Corrected && r.Signal.Metric == "drift" && r.WindowStart == ids[1].start {
					corrected++
				}
			}
			if corrected == 0 {
				t.Fatalf("window %d has no corrected drift rows", c.late[1])
			}
			diffRows(t, "one poll", *want, *got)

			// A third poll after both: the baselines in memory hold the
			// late events either way (a correction of the window after
			// them compares with the same block).
			next := c.late[1] + c.k
			if next < c.n {
				id := winID{key, 10, start + int64(next)*10}
				late[id] = emitWindows(t, key, id.start, 1)[0]
				n1, n2 := len(*want), len(*got)
				correctWith(one, id)
				correctWith(batch, id)
				diffRows(t, "after one poll", (*want)[n1:], (*got)[n2:])
			}
		})
	}
}
