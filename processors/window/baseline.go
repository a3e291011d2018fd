package window

import (
	"fmt"
	"slices"
)

// Baseline is what a window's drift is measured against.
type Baseline interface {
	// Partial returns the baseline's merged partial, nil when it has no data
	// yet. The caller must not modify it.
	Partial() *Partial
	// Name labels the drift rows (Signal.Baseline), e.g. "rolling:60".
	Name() string
}

// Rolling is a rolling baseline: the merge of the previous K closed windows
// of one key. It holds at most K partials plus their merge, so its memory is
// bounded by K and the Config. Not safe for concurrent use.
type Rolling struct {
	k       int
	windows []*Partial // sorted by WindowStart
	merged  *Partial
}

// NewRolling returns a rolling baseline over the last k windows (k < 1 is
// taken as 1).
func NewRolling(k int) *Rolling { return &Rolling{k: max(1, k)} }

// Name is "rolling:K".
func (r *Rolling) Name() string { return fmt.Sprintf("rolling:%d", r.k) }

// Len is the number of windows held.
func (r *Rolling) Len() int { return len(r.windows) }

// Add takes a closed window (the Rolling keeps it; do not modify it
// afterwards). A window with the start of one already held replaces it, so
// re-adding after a restart is harmless; beyond K windows the oldest is
// dropped. It fails, keeping the baseline unchanged, when closed cannot
// merge with the windows held (another key or other settings).
func (r *Rolling) Add(closed *Partial) error {
	if closed == nil || closed.lay == nil {
		return nil
	}
	if len(r.windows) > 0 {
		w := r.windows[0]
		if w.Key != closed.Key {
			return fmt.Errorf("cannot add window to rolling baseline: %w", ErrKeyMismatch)
		}
		if !w.lay.equal(closed.lay) {
			return fmt.Errorf("cannot add window to rolling baseline: %w", ErrLayoutMismatch)
		}
	}
	i, found := slices.BinarySearchFunc(r.windows, closed.WindowStart, func(p *Partial, t int64) int {
		switch {
		case p.WindowStart < t:
			return -1
		case p.WindowStart > t:
			return 1
		}
		return 0
	})
	if found {
		r.windows[i] = closed
	} else {
		r.windows = slices.Insert(r.windows, i, closed)
	}
	if len(r.windows) > r.k {
		r.windows = slices.Delete(r.windows, 0, len(r.windows)-r.k)
	}
	r.merged = nil
	return nil
}

// Partial returns the merge of the windows held (cached until the next
// Add), nil when empty.
func (r *Rolling) Partial() *Partial {
	if len(r.windows) == 0 {
		return nil
	}
	if r.merged == nil {
		m := r.windows[0].Clone()
		for _, w := range r.windows[1:] {
			_ = m.Merge(w) // checked in Add
		}
		r.merged = m
	}
	return r.merged
}

// SizeBytes is the approximate memory held.
func (r *Rolling) SizeBytes() int {
	n := 0
	for _, w := range r.windows {
		n += w.SizeBytes()
	}
	if r.merged != nil {
		n += r.merged.SizeBytes()
	}
	return n
}

type pinned struct {
	name string
	p    *Partial
}

func (b pinned) Partial() *Partial { return b.p }
func (b pinned) Name() string      { return b.name }

// Pinned returns a fixed baseline: a stored range (llm_baselines holds its
// MarshalBinary form) or a reference file, labelled name.
func Pinned(name string, p *Partial) Baseline { return pinned{name, p} }
