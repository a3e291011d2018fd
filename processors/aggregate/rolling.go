package aggregate

import "github.com/sightline-dev/sightline/processors/window"

// rolling is the rolling baseline of one key and window size: the windows
// are grouped in tumbling blocks of k windows aligned to k·size, and the
// baseline of a window is the merged previous complete block. Memory is at
// most two merged partials per key (the block being filled and the one
// before), not k, and the block boundaries do not depend on when the stage
// started, so a restart that reloads the block from llm_windows gives the
// same baseline.
type rolling struct {
	k      int
	secs   int64
	blocks map[int64]*window.Partial // block start -> merged closed windows
}

func newRolling(k int, secs uint32) *rolling {
	return &rolling{k: k, secs: int64(secs), blocks: map[int64]*window.Partial{}}
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

// Set installs a block loaded from storage.
func (r *rolling) Set(start int64, p *window.Partial) { r.blocks[start] = p }

// Has reports whether the block is known (loaded or built).
func (r *rolling) Has(start int64) bool { _, ok := r.blocks[start]; return ok }

// Partial returns the baseline of a window (nil when its block is empty).
func (r *rolling) Partial(windowStart int64) *window.Partial {
	return r.blocks[r.baseBlock(windowStart)]
}

// block is the merged block holding a window (nil when not built or
// loaded; r may be nil).
func (r *rolling) block(windowStart int64) *window.Partial {
	if r == nil {
		return nil
	}
	return r.blocks[r.blockOf(windowStart)]
}
