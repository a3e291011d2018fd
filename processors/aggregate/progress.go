package aggregate

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/sightline-dev/sightline/processors/window"
)

// source is the latest progress reported for one events partition, as seen
// in one partials partition.
type source struct {
	maxTS    int64 // latest event time scored, Unix ms (the maximum of all reports)
	caughtUp bool
	idleMS   int64
	listedAt int64 // Unix ms
}

// partState is what the stage knows of one partials partition it owns.
//
// Its watermark is an event time (Unix seconds) that no events partition
// can still contribute below, judged from the score stage's reports in
// this partition (every partial a report covers precedes it here):
//   - a partition with records not yet scored holds the watermark at the
//     latest event time scored from it (events arrive roughly in time
//     order within a partition; the lateness covers the disorder);
//   - a caught-up partition does not hold it back (an idle source);
//   - when every partition is caught up, the watermark is the latest
//     event time scored from any, and once every partition has been
//     caught up with nothing appended for idleClose, the time of the
//     listing that showed it (quiet traffic still gets its windows).
//
// A partition never reported holds the watermark where it is; the
// watermark never moves back.
type partState struct {
	events   int32 // partitions of the events topic
	sources  map[int32]*source
	wm       int64 // watermark, Unix seconds
	closed   int64 // windows with end+lateness <= closed are written
	consumed int64 // next offset to read (-1: nothing read yet)
	replayHi int64 // consumed position before the last restart
}

func newPartState() *partState {
	return &partState{sources: map[int32]*source{}, wm: math.MinInt64, closed: math.MinInt64, consumed: -1}
}

// report applies one progress report.
func (ps *partState) report(p *window.Progress) {
	if p.Partitions > ps.events {
		ps.events = p.Partitions
	}
	for _, pp := range p.Parts {
		src := ps.sources[pp.Partition]
		if src == nil {
			src = &source{}
			ps.sources[pp.Partition] = src
		}
		src.maxTS = max(src.maxTS, pp.MaxTS)
		src.caughtUp, src.idleMS, src.listedAt = pp.CaughtUp, pp.IdleMS, p.ListedAt
	}
}

// advance moves the watermark as far as the reports allow; it reports
// whether it moved.
func (ps *partState) advance(idleClose time.Duration) bool {
	if ps.events == 0 {
		return false
	}
	busyMin, maxAll, minListed := int64(math.MaxInt64), int64(0), int64(math.MaxInt64)
	busy, allIdle := false, true
	for p := int32(0); p < ps.events; p++ {
		src := ps.sources[p]
		if src == nil {
			return false
		}
		maxAll = max(maxAll, src.maxTS)
		if !src.caughtUp {
			busy, allIdle = true, false
			busyMin = min(busyMin, src.maxTS)
			continue
		}
		if src.idleMS < idleClose.Milliseconds() {
			allIdle = false
		}
		minListed = min(minListed, src.listedAt)
	}
	cand := maxAll
	if busy {
		cand = busyMin
	} else if allIdle {
		cand = max(cand, minListed)
	}
	if cand <= 0 {
		return false
	}
	if wm := floorDiv(cand, 1000); wm > ps.wm {
		ps.wm = wm
		return true
	}
	return false
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// Commit metadata of a partials partition: "wm=<unix seconds>;hi=<next
// offset>": the watermark through which windows are written, and the
// consumed position, so a restarted stage knows which re-read partials are
// replays of written windows.
func encodeMeta(wm, hi int64) string {
	return "wm=" + strconv.FormatInt(wm, 10) + ";hi=" + strconv.FormatInt(hi, 10)
}

func decodeMeta(s string) (wm, hi int64, ok bool) {
	var gotWM, gotHI bool
	for _, part := range strings.Split(s, ";") {
		k, v, _ := strings.Cut(part, "=")
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, 0, false
		}
		switch k {
		case "wm":
			wm, gotWM = n, true
		case "hi":
			hi, gotHI = n, true
		}
	}
	return wm, hi, gotWM && gotHI
}
