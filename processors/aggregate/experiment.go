package aggregate

import (
	"context"
	"sort"
	"time"

	"github.com/sightline-dev/sightline/processors/window"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

// A/B experiments in the stage.
//
// Each closed window of a (tenant, app, model) that has the control
// variant and another variant gives the fixed-horizon comparison of that
// window (window.CompareFixed) and a look of the sequential experiment of
// that variant against the control (window.Advance): the experiment's
// cumulative statistics since its start, its always-valid p-values and
// confidence sequences, as ab_msprt rows of the window. Each look is
// stored in llm_experiments with the window's own statistics, so that:
//
//   - a restarted stage continues every experiment from its latest stored
//     look (loaded the first time it meets the group's windows, as the
//     rolling baseline is), giving the rows an uninterrupted run gives;
//   - a look at a window at or before the experiment's latest (a corrected
//     window, or a window that closed after a later one) is replayed: the
//     experiment is restored from the stored look before the window, the
//     window's new statistics folded in, then the stored looks after it
//     folded in again with their own statistics, and every replayed look's
//     rows and state are written again (rows after the window marked
//     Corrected, so the alert engine re-judges them). The experiment is
//     thus always the one its stored windows define, whatever the order in
//     which they closed or were corrected.
//
// The arms of one window can close in different polls (their partials
// partitions' watermarks differ): a window whose (tenant, app, model)
// still has open windows of the same start is held (pending) until they
// close. An arm that closed before a restart is read back from
// llm_windows. Arms that live on different aggregate instances (a
// consumer group splits keys across members) are not compared.

// abGroupKey is what an experiment compares within: one tenant, app,
// model and window size.
type abGroupKey struct {
	tenant, app, model string
	secs               uint32
}

// abWin is one window of a group.
type abWin struct {
	g     abGroupKey
	start int64
}

type pendingWin struct {
	arms  map[string]*window.Partial
	added time.Time
}

type abGroup struct {
	loaded  bool                          // stored experiments loaded
	exps    map[string]*window.Experiment // by treatment variant
	pending map[int64]*pendingWin         // closed arms waiting for the window's other arms
	used    time.Time
}

// abState is the stage's experiment state: at most one Experiment per
// treatment key and window size, plus the arms of windows waiting for
// their other arms.
type abState struct {
	groups  map[abGroupKey]*abGroup
	looks   []chsink.ExperimentRow // computed, not yet written
	version uint64                 // of the latest look written
}

// compareVariants runs the A/B comparisons of the windows among parts
// (the windows closing in a poll, or a corrected window with the stored
// windows of the other variants) that concern the control: for every
// other variant of the same (tenant, app, model, window) with a window of
// mine on either side, CompareFixed's rows and the experiment's look. It
// stores the looks in llm_experiments before returning their rows.
func (s *Stage) compareVariants(ctx context.Context, parts []*window.Partial, mine map[*window.Partial]bool, corrected bool) ([]chsink.SignalRow, error) {
	if s.ab.groups == nil {
		s.ab.groups = map[abGroupKey]*abGroup{}
	}
	control := s.cfg.Control
	now := s.cfg.Now()
	batch := map[abWin]map[string]*window.Partial{}
	for _, p := range parts {
		w := abWin{abGroupKey{p.Key.Tenant, p.Key.App, p.Key.Model, p.WindowSeconds}, p.WindowStart}
		if batch[w] == nil {
			batch[w] = map[string]*window.Partial{}
		}
		batch[w][p.Key.Variant] = p
	}
	var wins []abWin
	var open map[abWin]bool
	s.mu.Lock()
	for w, arms := range batch {
		if s.abConcernsLocked(w, arms) {
			wins = append(wins, w)
		}
	}
	if !corrected && len(wins) > 0 {
		open = map[abWin]bool{}
		for id, ow := range s.open {
			if !mine[ow.p] {
				open[abWin{abGroupKey{id.k.Tenant, id.k.App, id.k.Model, id.secs}, id.start}] = true
			}
		}
	}
	s.mu.Unlock()
	// Window order, so that looks are made in order.
	sort.Slice(wins, func(i, j int) bool { return abWinLess(wins[i], wins[j]) })

	var rows []chsink.SignalRow
	for _, w := range wins {
		grp := s.ab.groups[w.g]
		if grp == nil {
			grp = &abGroup{exps: map[string]*window.Experiment{}, pending: map[int64]*pendingWin{}}
			s.ab.groups[w.g] = grp
		}
		grp.used = now
		arms := batch[w]
		if pw := grp.pending[w.start]; pw != nil {
			if corrected {
				// The window's look waits for its other arms: it will
				// be made with the corrected arm.
				for v, p := range arms {
					if mine[p] {
						pw.arms[v] = p
					}
				}
				continue
			}
			for v, p := range pw.arms {
				if arms[v] == nil {
					arms[v] = p
				}
			}
			delete(grp.pending, w.start)
		}
		if open[w] {
			grp.pending[w.start] = &pendingWin{arms: arms, added: now}
			continue
		}
		if err := s.loadExperiments(ctx, w.g, grp); err != nil {
			return nil, err
		}
		if !corrected && s.armsMissing(w.g, grp, arms) {
			var stored []chsink.StoredWindow
			if err := s.retry(ctx, func(ctx context.Context) error {
				var err error
				stored, err = chsink.WindowVariants(ctx, s.conn, w.g.tenant, w.g.app, w.g.model, w.g.secs, w.start)
				return err
			}); err != nil {
				return nil, err
			}
			for _, sw := range stored {
				if arms[sw.Partial.Key.Variant] == nil {
					arms[sw.Partial.Key.Variant] = sw.Partial
				}
			}
		}
		ctl := arms[control]
		if ctl == nil {
			continue
		}
		variants := make([]string, 0, len(arms))
		for v := range arms {
			if v != control {
				variants = append(variants, v)
			}
		}
		sort.Strings(variants)
		ctlStats := ctl.ABStats()
		for _, v := range variants {
			p := arms[v]
			if corrected && !mine[p] && !mine[ctl] {
				continue
			}
			for _, sig := range window.CompareFixed(ctl, p, s.cfg.WindowConfig) {
				rows = append(rows, chsink.SignalRow{Key: p.Key, WindowStart: w.start, WindowSeconds: w.g.secs, Signal: sig, Corrected: corrected})
			}
			r, err := s.abLook(ctx, w, grp, p.Key, &ctlStats, p.ABStats(), corrected)
			if err != nil {
				return nil, err
			}
			rows = append(rows, r...)
		}
	}
	if err := s.flushLooks(ctx); err != nil {
		return nil, err
	}
	s.forgetExperiments(now)
	return dedupeSignalRows(rows), nil
}

func abWinLess(a, b abWin) bool {
	switch {
	case a.start != b.start:
		return a.start < b.start
	case a.g.tenant != b.g.tenant:
		return a.g.tenant < b.g.tenant
	case a.g.app != b.g.app:
		return a.g.app < b.g.app
	case a.g.model != b.g.model:
		return a.g.model < b.g.model
	}
	return a.g.secs < b.g.secs
}

// abConcernsLocked reports whether the arms closing in window w can take
// part in an experiment: the control is among them, the group has
// experiments or waiting arms, or the control's key is tracked (its window
// may have closed before a restart).
func (s *Stage) abConcernsLocked(w abWin, arms map[string]*window.Partial) bool {
	if _, ok := arms[s.cfg.Control]; ok {
		return true
	}
	if grp := s.ab.groups[w.g]; grp != nil && (len(grp.exps) > 0 || len(grp.pending) > 0) {
		return true
	}
	_, tracked := s.keys[window.Key{Tenant: w.g.tenant, App: w.g.app, Model: w.g.model, Variant: s.cfg.Control}]
	return tracked
}

// armsMissing reports whether an arm of an experiment of the window may
// have closed in an earlier poll this process did not see (before a
// restart): the control is missing while another variant is there, or a
// running experiment's treatment is missing while its key is tracked.
func (s *Stage) armsMissing(g abGroupKey, grp *abGroup, arms map[string]*window.Partial) bool {
	if arms[s.cfg.Control] == nil {
		return len(arms) > 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for t := range grp.exps {
		if arms[t] == nil {
			if _, tracked := s.keys[window.Key{Tenant: g.tenant, App: g.app, Model: g.model, Variant: t}]; tracked {
				return true
			}
		}
	}
	return false
}

// loadExperiments reads the group's experiments from llm_experiments the
// first time this process meets the group.
func (s *Stage) loadExperiments(ctx context.Context, g abGroupKey, grp *abGroup) error {
	if grp.loaded {
		return nil
	}
	var latest map[string]window.ExperimentLook
	if err := s.retry(ctx, func(ctx context.Context) error {
		var err error
		latest, err = chsink.LatestExperiments(ctx, s.conn, g.tenant, g.app, g.model, s.cfg.Control, g.secs)
		return err
	}); err != nil {
		return err
	}
	for t, l := range latest {
		if !s.stale(window.Key{Tenant: g.tenant, App: g.app, Model: g.model, Variant: t}, l.State) {
			grp.exps[t] = l.State
		}
	}
	grp.loaded = true
	return nil
}

// stale reports whether e began before its experiment's configured start
// (window.ab.start, window.ab.starts): a new experiment replaces it.
func (s *Stage) stale(treatment window.Key, e *window.Experiment) bool {
	start, limited := s.cfg.WindowConfig.AB.StartFor(treatment)
	return e == nil || (limited && e.Start < start)
}

// abLook makes the look of window w of the experiment of treatment
// against the control, in order or by a replay (see the comment at the top
// of this file), and returns the rows of every look made.
func (s *Stage) abLook(ctx context.Context, w abWin, grp *abGroup, treatment window.Key, ctl *window.ABStats, trt window.ABStats, corrected bool) ([]chsink.SignalRow, error) {
	e := grp.exps[treatment.Variant]
	if s.stale(treatment, e) {
		e = nil
	}
	if e == nil || w.start > e.Last {
		ne, looked := window.Advance(e.Clone(), treatment, s.cfg.Control, w.start, ctl, &trt, s.cfg.WindowConfig)
		if !looked {
			return nil, nil
		}
		grp.exps[treatment.Variant] = ne
		s.recordLook(treatment, w, ne, *ctl, trt)
		return s.experimentRows(ne, treatment, w.g.secs, w.start, corrected), nil
	}
	// Replay from w: the stored looks must include those made so far.
	if err := s.flushLooks(ctx); err != nil {
		return nil, err
	}
	var (
		before *window.ExperimentLook
		after  []window.ExperimentLook
	)
	if err := s.retry(ctx, func(ctx context.Context) error {
		var err error
		before, after, err = chsink.ExperimentLooksAround(ctx, s.conn, treatment, s.cfg.Control, w.g.secs, w.start)
		return err
	}); err != nil {
		return nil, err
	}
	var base *window.Experiment
	if before != nil && !s.stale(treatment, before.State) {
		base = before.State
	}
	var rows []chsink.SignalRow
	ne, looked := window.Advance(base, treatment, s.cfg.Control, w.start, ctl, &trt, s.cfg.WindowConfig)
	if looked {
		s.recordLook(treatment, w, ne, *ctl, trt)
		rows = append(rows, s.experimentRows(ne, treatment, w.g.secs, w.start, corrected)...)
	}
	for _, l := range after {
		if s.stale(treatment, l.State) {
			continue // a look of an experiment that a configured start ended
		}
		if ne, looked = window.Advance(ne, treatment, s.cfg.Control, l.Window, &l.Control, &l.Treatment, s.cfg.WindowConfig); looked {
			s.recordLook(treatment, abWin{w.g, l.Window}, ne, l.Control, l.Treatment)
			rows = append(rows, s.experimentRows(ne, treatment, w.g.secs, l.Window, true)...)
		}
	}
	if ne != nil {
		grp.exps[treatment.Variant] = ne
	}
	return rows, nil
}

// recordLook queues the look for llm_experiments (a copy of the state:
// e goes on changing).
func (s *Stage) recordLook(treatment window.Key, w abWin, e *window.Experiment, ctl, trt window.ABStats) {
	v := uint64(time.Now().UnixNano())
	if v <= s.ab.version {
		v = s.ab.version + 1
	}
	s.ab.version = v
	s.ab.looks = append(s.ab.looks, chsink.ExperimentRow{Key: treatment, Control: s.cfg.Control, WindowSeconds: w.g.secs,
		Look: window.ExperimentLook{Window: w.start, Control: ctl, Treatment: trt, State: e.Clone()}, Version: v})
}

func (s *Stage) flushLooks(ctx context.Context) error {
	if len(s.ab.looks) == 0 {
		return nil
	}
	if err := s.retry(ctx, func(ctx context.Context) error { return chsink.InsertExperiments(ctx, s.conn, s.ab.looks) }); err != nil {
		return err
	}
	s.ab.looks = s.ab.looks[:0]
	return nil
}

func (s *Stage) experimentRows(e *window.Experiment, treatment window.Key, secs uint32, start int64, corrected bool) []chsink.SignalRow {
	sigs := e.Signals(s.cfg.WindowConfig)
	out := make([]chsink.SignalRow, len(sigs))
	for i, sig := range sigs {
		out[i] = chsink.SignalRow{Key: treatment, WindowStart: start, WindowSeconds: secs, Signal: sig, Corrected: corrected}
	}
	return out
}

// forgetExperiments drops groups unused for aggregate.key_idle and arms
// that waited that long for the rest of their window (a window that
// never closed here: its partition moved to another member).
func (s *Stage) forgetExperiments(now time.Time) {
	for g, grp := range s.ab.groups {
		for start, pw := range grp.pending {
			if now.Sub(pw.added) > s.cfg.KeyIdle {
				delete(grp.pending, start)
			}
		}
		if len(grp.pending) == 0 && now.Sub(grp.used) > s.cfg.KeyIdle {
			delete(s.ab.groups, g)
		}
	}
}

// dedupeSignalRows keeps the last of rows with the same key, window and
// signal: a replay rewrites the looks after its window, and a later replay
// in the same batch rewrites some of them again, with more data.
func dedupeSignalRows(rows []chsink.SignalRow) []chsink.SignalRow {
	type id struct {
		k                   window.Key
		start               int64
		secs                uint32
		name, metric, group string
	}
	last := make(map[id]int, len(rows))
	for i, r := range rows {
		last[id{r.Key, r.WindowStart, r.WindowSeconds, r.Signal.Name, r.Signal.Metric, r.Signal.Group}] = i
	}
	if len(last) == len(rows) {
		return rows
	}
	out := rows[:0]
	for i, r := range rows {
		if last[id{r.Key, r.WindowStart, r.WindowSeconds, r.Signal.Name, r.Signal.Metric, r.Signal.Group}] == i {
			out = append(out, r)
		}
	}
	return out
}
