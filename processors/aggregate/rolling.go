package aggregate

import "github.com/sightline-dev/sightline/processors/window"

// rolling is the rolling baseline of one key and window size: the windows
// are grouped in tumbling blocks of k windows aligned to k·size, and the
// baseline of a window is the merged previous complete block. Memory is at
// most two merged partials per key (the block being filled and the one
// before), not k, and the block boundaries do not depend on when the stage
// started, so a restart that reloads the block from llm_windows gives the
// same baseline.
//
// The block being filled when the state is created (a restart, a partition
// newly assigned, a key forgotten while idle) also holds windows closed
// before, by an earlier process or another member: the first window the
// stage closes for the key loads them (filled), so the next block's
// baseline is the whole block, not the windows closed since.
type rolling struct {
	k      int
	secs   int64
	blocks map[int64]*window.Partial // block start -> merged closed windows
	filled bool                      // the block being filled at creation was loaded
	parts  map[int32]bool            // partials partitions the closed windows came from
}

func newRolling(k int, secs uint32) *rolling {
	return &rolling{k: k, secs: int64(secs), blocks: map[int64]*window.Partial{}, parts: map[int32]bool{}}
}

func (r *rolling) span() int64 { return int64(r.k) * r.secs }

func (r *rolling) blockOf(windowStart int64) int64 {
	b := windowStart - windowStart%r.span()
	if windowStart < 0 && windowStart%r.span() != 0 {
		b -= r.span()
	}
	return b
}

// baseBlock is the start of the block a window is compared with.
func (r *rolling) baseBlock(windowStart int64) int64 { return r.blockOf(windowStart) - r.span() }

// Add merges a closed window into its block and forgets blocks no window
// will be compared with any more.
func (r *rolling) Add(p *window.Partial) {
	b := r.blockOf(p.WindowStart)
	if cur := r.blocks[b]; cur != nil {
		_ = cur.Merge(p)
	} else {
		r.blocks[b] = p.Clone()
	}
	for start := range r.blocks {
		if start < b-r.span() {
			delete(r.blocks, start)
		}
	}
}

// AddLate merges late events of a written window into its block if the
// block is known (loaded or built; a known empty block becomes them). An
// unknown block is not built here: loaded from llm_windows when needed,
// it holds the corrected window stored there.
func (r *rolling) AddLate(p *window.Partial) {
	b := r.blockOf(p.WindowStart)
	cur, ok := r.blocks[b]
	switch {
	case !ok:
	case cur == nil:
		r.blocks[b] = p.Clone()
	default:
		_ = cur.Merge(p)
	}
}

// Set installs a block loaded from storage.
func (r *rolling) Set(start int64, p *window.Partial) { r.blocks[start] = p }

// Has reports whether the block is known (loaded or built).
func (r *rolling) Has(start int64) bool { _, ok := r.blocks[start]; return ok }

// Partial returns the baseline of a window (nil when its block is empty).
func (r *rolling) Partial(windowStart int64) *window.Partial {
	return r.blocks[r.baseBlock(windowStart)]
}

// pendingBlocks is what the rolling baselines would hold had the windows
// of one emit been stored and added one at a time: the windows added so
// far, per key, window size and block, over the stage's blocks, which
// advance only once the whole batch is stored (a failed store leaves them
// as they were, so a retry computes the same rows). A window whose base
// block has earlier windows of the same batch is compared with that block
// merged with them; the merge is built once per block, on first use, and
// windows are added in order of their start, so every window of a block
// is in before a window of the next block asks for it. A nil
// *pendingBlocks holds nothing (baselines other than rolling).
//
// For a correction (late) it holds the late partials of the windows
// corrected so far, as rolling.AddLate would merge them after the store,
// so the corrected signals do not depend on how late partials were
// batched either. They are merged only into blocks the baseline takes
// from memory (known, or loaded from llm_windows in this batch, before
// the corrections are stored there), and a block holding late events
// is not built by them: unknown, it is still loaded.
type pendingBlocks struct {
	late   bool
	wins   map[rollBlock][]*window.Partial
	merged map[rollBlock]*window.Partial
}

type rollBlock struct {
	rk    rollKey
	start int64
}

func newPendingBlocks() *pendingBlocks {
	return &pendingBlocks{wins: map[rollBlock][]*window.Partial{}, merged: map[rollBlock]*window.Partial{}}
}

// newLateBlocks is a pendingBlocks for the late partials of a correction.
func newLateBlocks() *pendingBlocks {
	pb := newPendingBlocks()
	pb.late = true
	return pb
}

// closing reports whether pb holds closed windows (emit), whose blocks
// rolling.Add would have built.
func (pb *pendingBlocks) closing() bool { return pb != nil && !pb.late }

// add records a window of the batch whose signals are computed, or the
// late partial of a corrected window (p is not modified).
func (pb *pendingBlocks) add(r *rolling, p *window.Partial) {
	if pb == nil {
		return
	}
	b := rollBlock{rollKey{p.Key, p.WindowSeconds}, r.blockOf(p.WindowStart)}
	pb.wins[b] = append(pb.wins[b], p)
	delete(pb.merged, b)
}

// has reports whether the batch added windows to the block.
func (pb *pendingBlocks) has(rk rollKey, start int64) bool {
	return pb != nil && len(pb.wins[rollBlock{rk, start}]) > 0
}

// partial is r.Partial(windowStart) with the batch's windows (or late
// partials) of the base block merged in as rolling.Add (AddLate) would
// merge them (same order, so the same sums).
func (pb *pendingBlocks) partial(r *rolling, rk rollKey, windowStart int64) *window.Partial {
	bb := r.baseBlock(windowStart)
	b := rollBlock{rk, bb}
	if !pb.has(rk, bb) {
		return r.Partial(windowStart)
	}
	if m := pb.merged[b]; m != nil {
		return m
	}
	var m *window.Partial
	if cur := r.blocks[bb]; cur != nil {
		m = cur.Clone()
	}
	for _, p := range pb.wins[b] {
		if m == nil {
			m = p.Clone()
		} else {
			_ = m.Merge(p)
		}
	}
	pb.merged[b] = m
	return m
}
