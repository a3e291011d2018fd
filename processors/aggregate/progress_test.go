package aggregate

import (
	"math"
	"testing"
	"time"

	"github.com/sightline-dev/sightline/processors/window"
)

// The watermark of a partials partition, report by report.
func TestWatermarkFromReports(t *testing.T) {
	const idle = 10 * time.Second
	busy := func(p int32, ts int64) window.PartProgress { return window.PartProgress{Partition: p, MaxTS: ts} }
	caught := func(p int32, ts, idleMS int64) window.PartProgress {
		return window.PartProgress{Partition: p, MaxTS: ts, CaughtUp: true, IdleMS: idleMS}
	}
	rep := func(listedAt int64, parts ...window.PartProgress) *window.Progress {
		return &window.Progress{Version: 1, Partitions: 3, ListedAt: listedAt, Parts: parts}
	}
	steps := []struct {
		name   string
		report *window.Progress
		wm     int64 // want, Unix seconds (MinInt64: not yet any)
	}{
		{"partitions 0 and 1 reported, 2 never: no watermark", rep(500_000, busy(0, 100_000), busy(1, 90_000)), math.MinInt64},
		{"partition 2 busy but nothing scored yet: still none", rep(500_000, busy(2, 0)), math.MinInt64},
		{"all busy: the slowest holds it", rep(500_000, busy(2, 80_500)), 80},
		{"a slower report never moves it back", rep(500_000, busy(2, 70_000)), 80},
		{"the slowest drains: a caught-up partition does not hold it back", rep(500_000, caught(2, 80_500, 0)), 90},
		{"only caught-up partitions left: the latest event time scored", rep(500_000, caught(0, 100_000, 0), caught(1, 95_000, 0)), 100},
		{"all caught up but not quiet for idle_close yet", rep(600_000, caught(0, 100_000, 9_999), caught(1, 95_000, 20_000), caught(2, 80_500, 20_000)), 100},
		{"all quiet for idle_close: the listing time", rep(600_000, caught(0, 100_000, 10_000), caught(1, 95_000, 20_000), caught(2, 80_500, 20_000)), 600},
		{"new traffic on one partition: the watermark stays", rep(700_000, busy(1, 650_000)), 650},
	}
	ps := newPartState()
	for _, s := range steps {
		ps.report(s.report)
		ps.advance(idle)
		if ps.wm != s.wm {
			t.Fatalf("%s: watermark %d, want %d", s.name, ps.wm, s.wm)
		}
	}
}

func TestMetaRoundTrip(t *testing.T) {
	wm, hi, ok := decodeMeta(encodeMeta(-5, 42))
	if !ok || wm != -5 || hi != 42 {
		t.Fatalf("got %d %d %v", wm, hi, ok)
	}
	for _, bad := range []string{"", "wm=1", "hi=2", "wm=x;hi=2", "wm=1;hi=2;zz"} {
		if _, _, ok := decodeMeta(bad); ok {
			t.Fatalf("%q decoded", bad)
		}
	}
}
