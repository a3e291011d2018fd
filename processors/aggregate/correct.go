package aggregate

import (
	"context"
	"sort"
	"time"

	"github.com/sightline-dev/sightline/processors/window"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

// correct writes a corrected version of every written window that late
// partials arrived for in this poll: the stored merged partial plus the
// late ones, its signals recomputed (and the A/B comparisons of its
// (tenant, app, model) window, which read the other variants' stored
// windows), with a version above every stored one, so the signal tables
// (ReplacingMergeTree on computed_at) keep the corrected rows. The alert
// engine sees the rows marked Corrected.
//
// Windows are taken in order of their start, and each one's rolling
// baseline holds the late partials of the windows corrected before it in
// the same poll (pendingBlocks), so the rows do not depend on how late
// partials were batched. The rolling baselines themselves take the late
// partials only once the corrections are stored.
func (s *Stage) correct(ctx context.Context) error {
	s.mu.Lock()
	if len(s.late) == 0 {
		s.mu.Unlock()
		return nil
	}
	ids := make([]winID, 0, len(s.late))
	for id := range s.late {
		ids = append(ids, id)
	}
	late := s.late
	s.mu.Unlock()
	sort.Slice(ids, func(i, j int) bool { return idLess(ids[i], ids[j]) })

	type groupKey struct {
		tenant, app, model string
		secs               uint32
		start              int64
	}
	groups := map[groupKey][]winID{}
	var order []groupKey
	for _, id := range ids {
		g := groupKey{id.k.Tenant, id.k.App, id.k.Model, id.secs, id.start}
		if _, ok := groups[g]; !ok {
			order = append(order, g)
		}
		groups[g] = append(groups[g], id)
	}
	var (
		rows    []chsink.SignalRow
		parts   []*window.Partial
		version time.Time
		pend    *pendingBlocks
	)
	if s.cfg.Baseline == "rolling" {
		pend = newLateBlocks()
	}
	for _, g := range order {
		var stored []chsink.StoredWindow
		if err := s.retry(ctx, func(ctx context.Context) error {
			var err error
			stored, err = chsink.WindowVariants(ctx, s.conn, g.tenant, g.app, g.model, g.secs, g.start)
			return err
		}); err != nil {
			return err
		}
		byVariant := map[string]*window.Partial{}
		for _, w := range stored {
			byVariant[w.Partial.Key.Variant] = w.Partial
			if w.ComputedAt.After(version) {
				version = w.ComputedAt
			}
		}
		var mine, lateMine []*window.Partial
		for _, id := range groups[g] {
			merged := byVariant[id.k.Variant]
			if merged == nil {
				merged = window.NewPartial(id.k, id.start, id.secs, s.cfg.WindowConfig)
			}
			if err := merged.Merge(late[id]); err != nil {
				s.m.badPartials.Inc()
				continue
			}
			byVariant[id.k.Variant] = merged
			mine = append(mine, merged)
			lateMine = append(lateMine, late[id])
		}
		group := make([]*window.Partial, 0, len(byVariant))
		for _, p := range byVariant {
			group = append(group, p)
		}
		r, err := s.signalRows(ctx, mine, group, true, pend)
		if err != nil {
			return err
		}
		// The windows of a group share a start: none is in another's
		// baseline, so their late partials are added after all of them.
		if pend != nil {
			s.mu.Lock()
			for _, p := range lateMine {
				pend.add(s.rollingLocked(p.Key, p.WindowSeconds), p)
			}
			s.mu.Unlock()
		}
		rows = append(rows, r...)
		parts = append(parts, mine...)
	}
	// Replays of an experiment from two corrected windows both rewrite its
	// later looks; the second one holds both corrections.
	rows = dedupeSignalRows(rows)
	// DateTime has whole seconds: a correction in the same second as the
	// version it replaces must still sort above it.
	now := time.Now().UTC().Truncate(time.Second)
	if !now.After(version) {
		now = version.Add(time.Second)
	}
	for i := range rows {
		rows[i].ComputedAt = now
	}
	if err := s.store(ctx, rows, parts, now); err != nil {
		return err
	}
	s.m.corrections.Add(float64(len(parts)))
	s.mu.Lock()
	for _, id := range ids {
		// A rolling baseline block already in memory gets the late
		// events too (as pend had them).
		if r := s.rolling[rollKey{id.k, id.secs}]; r != nil {
			r.AddLate(late[id])
		}
	}
	s.late = map[winID]*window.Partial{}
	s.dirty = true
	s.mu.Unlock()
	if s.cfg.OnSignals != nil {
		s.cfg.OnSignals(ctx, rows)
	}
	return nil
}
