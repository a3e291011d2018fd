package alert

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"math"
	"slices"
	"time"

	"github.com/google/uuid"

	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
	"github.com/sightline-dev/sightline/sinks/notify"
)

// Series states (llm_alerts.state). inactive is a series that is neither
// pending nor firing (stored when a pending series clears before firing).
const (
	statePending  = "pending"
	stateFiring   = "firing"
	stateResolved = "resolved"
	stateInactive = "inactive"
)

// An incident is one firing of a rule's group: the series sharing the
// rule's group_by keys. It starts when the first of them fires (one firing
// notification listing the series that fired in that Evaluate call),
// repeats every renotify interval while a member fires and gets matching
// windows (listing every member so far), and resolves when the last firing
// member resolves (one resolved notification listing them all). A series
// that fires while its group's incident fires joins it without a
// notification of its own; the next re-notification, or the resolved
// one, lists it. A member that resolves while others fire stays listed as
// resolved, and rejoins if it fires again. Job actions run once per
// incident (its id is the notification's AlertID and so the idempotency
// key's seed).
//
// The incident's id derives from the group and the first member's firing
// episode, so an Evaluate repeated after a crash (the windows replayed
// before their state rows were written) makes the same id and the same
// idempotency keys. llm_alerts holds an 'incident' row when it starts and
// when it resolves, an 'incident_renotify' row per re-notification, and
// the incident id on its members' firing and resolved rows: a restarted
// engine reloads the incident and its members and notifies nothing again.
type incident struct {
	rule       *rule
	gfp        string
	id         string
	startedAt  int64 // the earliest member episode's first window when it was announced
	notifiedAt time.Time
	// announced: its firing notification is queued (false only during the
	// Evaluate that started it, so every series that fires in that call is
	// listed in it).
	announced bool
	// matched: a firing member had a matching window in this Evaluate (a
	// re-notification is due only then, as for a series).
	matched bool
	members map[string]*member // by series fingerprint
}

// member is a series in an incident, with the episode it joined with (the
// series itself moves on: a resolved member may go pending again).
type member struct {
	s        *series
	alertID  string
	startsAt int64
	endsAt   time.Time // when it resolved; zero while firing
}

func (m *member) firing() bool { return m.s.state == stateFiring && m.s.alertID == m.alertID }

func (inc *incident) add(s *series) {
	inc.members[s.fp] = &member{s: s, alertID: s.alertID, startsAt: s.episode}
}

func (inc *incident) firing() int {
	n := 0
	for _, m := range inc.members {
		if m.firing() {
			n++
		}
	}
	return n
}

// GroupFingerprint identifies a rule's group: a stable hash of the rule
// name and the values of its group_by keys (in notify.GroupKeys order).
func GroupFingerprint(ruleName string, groupBy []string, s notify.Scope, sig notify.SignalRef) string {
	h := sha256.New()
	h.Write([]byte("group\x00" + ruleName + "\x00"))
	for _, k := range groupBy {
		v, _ := notify.GroupValue(s, sig, k)
		h.Write([]byte(k + "=" + v + "\x00"))
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

func incidentID(gfp, firstAlertID string) string {
	return uuid.NewSHA1(uuid.NameSpaceOID, []byte("incident/"+gfp+"/"+firstAlertID)).String()
}

// join adds a series that fired to its group's incident, starting one if
// the group has none firing.
func (e *Engine) join(s *series, b *batch) {
	inc := e.incidents[s.gfp]
	switch {
	case inc == nil:
		inc = &incident{rule: s.rule, gfp: s.gfp, id: incidentID(s.gfp, s.alertID), startedAt: s.episode, members: map[string]*member{}}
		e.incidents[s.gfp] = inc
	case !inc.announced:
		inc.startedAt = min(inc.startedAt, s.episode)
	default:
		e.log.Info("alert series joined a firing incident; the next re-notification lists it", "rule", s.rule.Name,
			"incident_id", inc.id, "alert_id", s.alertID, "scope", s.scope.String())
	}
	inc.add(s)
	s.incidentID = inc.id
	b.touch(inc)
}

// leave marks a member resolved (the series resolved).
func (e *Engine) leave(s *series, b *batch) {
	inc := e.incidents[s.gfp]
	if inc == nil || inc.id != s.incidentID {
		return
	}
	if m := inc.members[s.fp]; m != nil && m.alertID == s.alertID {
		m.endsAt = b.now
	}
	b.touch(inc)
}

// settle decides what the incidents touched by this Evaluate notify: the
// firing of a new one, a due re-notification, the resolution of one whose
// last firing member resolved.
func (e *Engine) settle(b *batch) {
	for _, inc := range b.incidents {
		firing := inc.firing()
		switch {
		case !inc.announced:
			inc.announced, inc.notifiedAt = true, b.now
			n := e.incidentNotification(inc, notify.StateFiring, b.now)
			b.rows = append(b.rows, e.incidentRow(inc, n, chsink.AlertKindIncident, b.now))
			b.notes = append(b.notes, note{rule: inc.rule, inc: inc, n: n})
			e.log.Info("alert incident firing", "rule", inc.rule.Name, "incident_id", inc.id, "group", n.GroupLabel(),
				"series_firing", n.MembersFiring, "signal", n.Signal.String(), "value", n.Value)
		case firing > 0 && inc.matched && inc.rule.Renotify > 0 && b.now.Sub(inc.notifiedAt) >= inc.rule.Renotify:
			inc.notifiedAt = b.now
			n := e.incidentNotification(inc, notify.StateFiring, b.now)
			b.rows = append(b.rows, e.incidentRow(inc, n, chsink.AlertKindIncidentRenotify, b.now))
			b.notes = append(b.notes, note{rule: inc.rule, inc: inc, n: n, repeat: true})
		}
		inc.matched = false
		if firing == 0 {
			n := e.incidentNotification(inc, notify.StateResolved, b.now)
			b.rows = append(b.rows, e.incidentRow(inc, n, chsink.AlertKindIncident, b.now))
			b.notes = append(b.notes, note{rule: inc.rule, inc: inc, n: n})
			if e.incidents[inc.gfp] == inc {
				delete(e.incidents, inc.gfp)
			}
			e.log.Info("alert incident resolved", "rule", inc.rule.Name, "incident_id", inc.id, "group", n.GroupLabel(), "series", n.MembersTotal)
		}
	}
}

// badness orders members for the listing: the one farthest past the
// threshold first (the lead), in the rule's direction; NaN (no data) last.
func (r *rule) badness(v float64) float64 {
	switch {
	case math.IsNaN(v):
		return math.Inf(-1)
	case r.Operator == ">" || r.Operator == ">=":
		return v
	case r.Operator == "<" || r.Operator == "<=":
		return -v
	}
	return 0
}

// incidentNotification is the version 2 notification of an incident in
// its current state.
func (e *Engine) incidentNotification(inc *incident, state string, now time.Time) notify.Notification {
	ms := make([]*member, 0, len(inc.members))
	for _, m := range inc.members {
		ms = append(ms, m)
	}
	slices.SortFunc(ms, func(a, b *member) int {
		if fa, fb := a.firing(), b.firing(); fa != fb {
			if fa {
				return -1
			}
			return 1
		}
		return cmp.Or(cmp.Compare(inc.rule.badness(b.s.value), inc.rule.badness(a.s.value)),
			cmp.Compare(a.s.scope.String(), b.s.scope.String()), cmp.Compare(a.s.fp, b.s.fp))
	})
	firing := 0
	var common notify.Scope
	if len(ms) > 0 {
		common = ms[0].s.scope
	}
	span := notify.Span{Start: time.Unix(inc.startedAt, 0).UTC(), End: time.Unix(inc.startedAt, 0).UTC()}
	for _, m := range ms {
		if m.firing() {
			firing++
		}
		common = commonScope(common, m.s.scope)
		if end := m.s.window().End; end.After(span.End) {
			span.End = end
		}
	}
	listed := make([]notify.Member, 0, min(len(ms), notify.MaxMembers))
	for _, m := range ms[:min(len(ms), notify.MaxMembers)] {
		st := stateResolved
		if m.firing() {
			st = stateFiring
		}
		listed = append(listed, notify.Member{AlertID: m.alertID, Fingerprint: m.s.fp, State: st, Scope: m.s.scope, Signal: m.s.sig,
			Value: m.s.value, Threshold: m.s.threshold, N: m.s.n, Window: m.s.window(), StartsAt: time.Unix(m.startsAt, 0).UTC(),
			EndsAt: m.endsAt.UTC()})
	}
	// An incident reloaded without members (their rows gone) still
	// resolves, naming no series.
	lead := notify.Member{Value: math.NaN(), Threshold: math.NaN()}
	if len(listed) > 0 {
		lead = listed[0]
	}
	n := notify.Notification{Version: notify.Version2, AlertID: inc.id, Rule: inc.rule.Name, Fingerprint: inc.gfp, State: state,
		Severity: inc.rule.severity, Signal: lead.Signal, Value: lead.Value, Threshold: lead.Threshold, Condition: inc.rule.condition,
		N: lead.N, Window: lead.Window, Scope: common, Labels: inc.rule.Labels, StartsAt: span.Start,
		Links: notify.Links{EventsSQL: notify.IncidentEventsSQL(listed, span, e.cfg.EventsLimit)}, Span: span,
		GroupBy: inc.rule.groupBy, Members: listed, MembersTotal: len(ms), MembersFiring: firing}
	if state == notify.StateResolved {
		n.EndsAt = now.UTC()
	}
	n.Text = n.Summary()
	return n
}

// commonScope keeps the fields a and b share; the others become empty.
func commonScope(a, b notify.Scope) notify.Scope {
	keep := func(x, y string) string {
		if x == y {
			return x
		}
		return ""
	}
	return notify.Scope{Tenant: keep(a.Tenant, b.Tenant), App: keep(a.App, b.App), Model: keep(a.Model, b.Model),
		Variant: keep(a.Variant, b.Variant), Group: keep(a.Group, b.Group)}
}

// incidentRow is the llm_alerts row of an incident's notification: the
// group's fingerprint and the members' common scope, the lead member's
// signal, value and window.
func (e *Engine) incidentRow(inc *incident, n notify.Notification, kind string, now time.Time) chsink.AlertRow {
	return chsink.AlertRow{AlertID: inc.id, IncidentID: inc.id, Rule: inc.rule.Name, Fingerprint: inc.gfp, Kind: kind, State: n.State,
		Severity: n.Severity, Tenant: n.Scope.Tenant, App: n.Scope.App, Model: n.Scope.Model, Variant: n.Scope.Variant, Group: n.Scope.Group,
		Signal: n.Signal.Name, Metric: n.Signal.Metric, Value: n.Value, Threshold: n.Threshold, Condition: n.Condition, N: n.N,
		Consecutive: uint32(n.MembersFiring), WindowStart: n.Window.Start, WindowSeconds: n.Window.Seconds, StartedAt: n.StartsAt,
		NotifiedAt: inc.notifiedAt, Labels: inc.rule.labelsJSON, TS: now, Seq: nextSeq()}
}

// loadIncidents rebuilds the firing incidents from their newest rows and
// their members from the series' rows that name them. A firing series
// whose group has no firing incident (rows written before grouping, or a
// changed group_by) is adopted into one without a notification, since it
// was notified when it fired; an incident left without a firing member
// (its series' rule now matches elsewhere) resolves on the next Evaluate.
func (e *Engine) loadIncidents(rows []chsink.AlertRow) {
	for _, r := range rows {
		if r.State != stateFiring {
			continue
		}
		id := cmp.Or(r.IncidentID, r.AlertID)
		e.incidents[r.Fingerprint] = &incident{rule: e.byName[r.Rule], gfp: r.Fingerprint, id: id, startedAt: r.StartedAt.Unix(),
			notifiedAt: r.NotifiedAt, announced: true, members: map[string]*member{}}
	}
	var orphans []*series
	for _, s := range e.series {
		inc := e.incidents[s.gfp]
		switch {
		case inc != nil && s.incidentID == inc.id:
			inc.add(s)
		case s.state == stateFiring:
			orphans = append(orphans, s)
		}
	}
	// The earliest episode first, so the adopted incident's id is the same
	// at every restart until its first row is written.
	slices.SortFunc(orphans, func(a, b *series) int { return cmp.Or(cmp.Compare(a.episode, b.episode), cmp.Compare(a.fp, b.fp)) })
	for _, s := range orphans {
		inc := e.incidents[s.gfp]
		if inc == nil {
			inc = &incident{rule: s.rule, gfp: s.gfp, id: incidentID(s.gfp, s.alertID), startedAt: s.episode, notifiedAt: s.notifiedAt,
				announced: true, members: map[string]*member{}}
			e.incidents[s.gfp] = inc
			e.log.Info("firing alert series adopted into an incident without a notification", "rule", s.rule.Name,
				"incident_id", inc.id, "alert_id", s.alertID)
		}
		inc.add(s)
		s.incidentID = inc.id
	}
	for _, inc := range e.incidents {
		if inc.firing() == 0 {
			e.recheck = append(e.recheck, inc)
		}
	}
}
