package aggregate

import "github.com/sightline-dev/sightline/processors/window"

// rolling is the baseline of the previous k closed windows of one key: a
// ring of their partials, merged when a window needs its baseline. Memory is
// k partials per key with a drift baseline.
type rolling struct {
	k     int
	ring  []*window.Partial
	next  int
	cache *window.Partial
}

func newRolling(k int) *rolling { return &rolling{k: k} }

// Add pushes a closed window, evicting the oldest beyond k.
func (r *rolling) Add(p *window.Partial) {
	if len(r.ring) < r.k {
		r.ring = append(r.ring, p)
	} else {
		r.ring[r.next] = p
		r.next = (r.next + 1) % r.k
	}
	r.cache = nil
}

// Partial merges the windows in the ring (nil when empty).
func (r *rolling) Partial() *window.Partial {
	if r.cache != nil || len(r.ring) == 0 {
		return r.cache
	}
	var m *window.Partial
	for _, p := range r.ring {
		if m == nil {
			m = p.Clone()
			continue
		}
		if err := m.Merge(p); err != nil {
			continue
		}
	}
	r.cache = m
	return m
}
