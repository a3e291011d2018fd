package alert

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sightline-dev/sightline/internal/redact"
	"github.com/sightline-dev/sightline/processors/window"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
	"github.com/sightline-dev/sightline/sinks/notify"
)

// forgetAfter: an inactive series with no row for this many windows is
// forgotten (it only held the last window evaluated).
const forgetAfter = 100

// series is the state of one (rule, scope, signal, window size).
type series struct {
	rule        *rule
	fp          string
	gfp         string // fingerprint of its group (the rule's group_by)
	incidentID  string // incident of its current or last firing episode
	scope       notify.Scope
	sig         notify.SignalRef
	seconds     uint32
	state       string // pending, firing or inactive
	alertID     string
	consecutive int
	last        int64 // start of the last window evaluated
	episode     int64 // start of the first matching window of the episode
	notifiedAt  time.Time

	value, threshold float64
	n                uint64

	// hist holds the verdicts of the last windows evaluated (true:
	// matching), so a corrected window can be judged in its place.
	hist map[int64]bool
}

// histWindows bounds a series' verdict history: corrections of windows
// older than this many windows are not re-judged.
const histWindows = 64

func (s *series) remember(start int64, matching bool) {
	if s.hist == nil {
		s.hist = map[int64]bool{}
	}
	s.hist[start] = matching
	if len(s.hist) > histWindows {
		oldest := int64(math.MaxInt64)
		for w := range s.hist {
			oldest = min(oldest, w)
		}
		delete(s.hist, oldest)
	}
}

// run is the number of consecutive matching windows in the history that
// include the window at start (windows without data neither break nor
// extend a run, as in step), and the first of them.
func (s *series) run(start int64) (n int, first int64) {
	if !s.hist[start] {
		return 0, start
	}
	ws := make([]int64, 0, len(s.hist))
	for w := range s.hist {
		ws = append(ws, w)
	}
	slices.Sort(ws)
	i := slices.Index(ws, start)
	lo, hi := i, i
	for lo > 0 && s.hist[ws[lo-1]] {
		lo--
	}
	for hi+1 < len(ws) && s.hist[ws[hi+1]] {
		hi++
	}
	return hi - lo + 1, ws[lo]
}

// Engine evaluates rules over signal rows and drives the actions.
type Engine struct {
	cfg     Config
	conn    driver.Conn
	log     *slog.Logger
	rules   []*rule
	byName  map[string]*rule
	actions map[string]*action
	disp    *notify.Dispatcher
	rec     *recorder
	m       *metrics
	// Now is the clock (tests may replace it before the first Evaluate).
	Now func() time.Time
	// observe, when set (tests), sees every incident notification
	// Evaluate queues.
	observe func(notify.Notification)

	// observeSeries, when set (tests), sees every per-series notification
	// (those Alertmanager actions get).
	observeSeries func(notify.Notification)

	mu        sync.Mutex
	series    map[string]*series
	incidents map[string]*incident // firing incidents by group fingerprint
	recheck   []*incident          // loaded firing without a firing member: settled by the next Evaluate
	watermark map[uint32]int64     // newest window start seen per window size
}

type action struct {
	cfg    notify.ActionConfig
	target notify.Action
	policy notify.Policy
}

type metrics struct {
	state     *prometheus.GaugeVec
	incidents *prometheus.GaugeVec
	actions   *prometheus.CounterVec
	dropped   prometheus.Counter
	store     prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		state: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sightline_alert_state",
			Help: "Alert series per rule in each state (pending, firing)."}, []string{"rule", "state"}),
		incidents: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sightline_alert_incidents",
			Help: "Firing incidents (groups of a rule's series, see group_by) per rule."}, []string{"rule"}),
		actions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sightline_alert_actions_total",
			Help: "Action attempts by action and outcome (ok, retry, failed, dropped)."}, []string{"action", "outcome"}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "sightline_alert_action_queue_dropped_total",
			Help: "Notifications dropped because the action queue was full or closed."}),
		store: prometheus.NewCounter(prometheus.CounterOpts{Name: "sightline_alert_store_errors_total",
			Help: "Writes to llm_alerts/llm_jobs that failed or were dropped."}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.state, m.incidents, m.actions, m.dropped, m.store} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("cannot register alert metrics: %w", err)
			}
		}
	}
	return m, nil
}

// New validates cfg, builds the actions, loads the state of every alert
// series from llm_alerts and starts the action workers. reg may be nil.
func New(cfg Config, conn driver.Conn, reg prometheus.Registerer, logger *slog.Logger) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.EventsLimit == 0 {
		cfg.EventsLimit = notify.DefaultEventsLimit
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	e := &Engine{cfg: cfg, conn: conn, log: logger, byName: map[string]*rule{}, actions: map[string]*action{},
		m: m, Now: time.Now, series: map[string]*series{}, incidents: map[string]*incident{}, watermark: map[uint32]int64{}}
	for _, r := range cfg.Rules {
		c := compileRule(r)
		e.rules = append(e.rules, c)
		e.byName[r.Name] = c
	}
	for i, ac := range cfg.Actions {
		t, err := notify.Build(ac)
		if err != nil {
			e.closeActions()
			return nil, redact.Error(fmt.Errorf("alerts.actions[%d] %q: %w", i, ac.Name, err))
		}
		e.actions[ac.Name] = &action{cfg: ac, target: t, policy: ac.Policy()}
	}
	for _, r := range e.rules {
		for _, name := range r.Actions {
			r.perSeries = r.perSeries || e.actions[name].cfg.Type == notify.TypeAlertmanager
		}
	}
	if err := e.load(context.Background()); err != nil {
		e.closeActions()
		return nil, err
	}
	e.rec = newRecorder(conn, e.m, logger)
	e.disp = notify.NewDispatcher(notify.DispatcherConfig{Workers: cfg.Workers, QueueSize: cfg.QueueSize, Record: e.record})
	e.updateGauges()
	return e, nil
}

func (e *Engine) closeActions() {
	for _, a := range e.actions {
		if c, ok := a.target.(interface{ Close() }); ok {
			c.Close()
		}
	}
}

// Close waits for queued notifications (until ctx ends), flushes the
// records and closes the actions.
func (e *Engine) Close(ctx context.Context) error {
	err := e.disp.Close(ctx)
	e.rec.close()
	e.closeActions()
	return err
}

// load rebuilds the series and the firing incidents from their newest
// state rows (see loadIncidents for the incidents).
func (e *Engine) load(ctx context.Context) error {
	rows, err := chsink.LoadAlertStates(ctx, e.conn)
	if err != nil {
		return err
	}
	var incidents []chsink.AlertRow
	for _, r := range rows {
		ru := e.byName[r.Rule]
		if ru == nil {
			if r.State == stateFiring {
				e.log.Warn("firing alert of a rule no longer configured is left as is", "rule", r.Rule, "alert_id", r.AlertID, "kind", r.Kind)
			}
			continue
		}
		if r.Kind == chsink.AlertKindIncident || r.Kind == chsink.AlertKindIncidentRenotify {
			incidents = append(incidents, r)
			continue
		}
		s := e.newSeries(ru, notify.Scope{Tenant: r.Tenant, App: r.App, Model: r.Model, Variant: r.Variant, Group: r.Group},
			notify.SignalRef{Name: r.Signal, Metric: r.Metric}, r.WindowSeconds)
		s.fp, s.state, s.alertID, s.incidentID = r.Fingerprint, r.State, r.AlertID, r.IncidentID
		s.consecutive, s.last, s.episode, s.notifiedAt = int(r.Consecutive), r.WindowStart.Unix(), r.StartedAt.Unix(), r.NotifiedAt
		s.value, s.threshold, s.n = r.Value, r.Threshold, r.N
		if s.state != statePending && s.state != stateFiring {
			s.state, s.consecutive = stateInactive, 0
		}
		e.series[s.fp] = s
	}
	e.loadIncidents(incidents)
	return nil
}

func (e *Engine) newSeries(r *rule, scope notify.Scope, sig notify.SignalRef, seconds uint32) *series {
	return &series{rule: r, fp: Fingerprint(r.Name, scope, sig, seconds), gfp: GroupFingerprint(r.Name, r.groupBy, scope, sig),
		scope: scope, sig: sig, seconds: seconds, state: stateInactive, last: math.MinInt64}
}

// Fingerprint identifies a series: a stable hash of the rule name, the
// scope, the signal and the window size (so 1m windows and 1h rollups are
// separate series).
func Fingerprint(ruleName string, s notify.Scope, sig notify.SignalRef, seconds uint32) string {
	h := sha256.New()
	for _, p := range []string{ruleName, s.Tenant, s.App, s.Model, s.Variant, s.Group, sig.Name, sig.Metric, strconv.FormatUint(uint64(seconds), 10)} {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

type verdict int

const (
	noData verdict = iota
	matching
	clearing
)

// check evaluates the rule's condition on one row.
func (r *rule) check(s *window.Signal) (verdict, float64) {
	th := math.NaN()
	if s.Threshold != nil {
		th = *s.Threshold
	}
	if s.N < r.MinSamples {
		return noData, th
	}
	if r.op == nil {
		if r.condition == CondSignificant && s.PValue != nil && s.Threshold != nil && !(*s.PValue <= *s.Threshold) {
			return clearing, th
		}
		if s.Decision {
			return matching, th
		}
		return clearing, th
	}
	th = *r.Threshold
	if math.IsNaN(s.Value) || math.IsInf(s.Value, 0) {
		return noData, th
	}
	if r.op(s.Value, th) {
		return matching, th
	}
	return clearing, th
}

func (r *rule) matches(row *chsink.SignalRow) bool {
	return (r.windowSec == 0 || r.windowSec == row.WindowSeconds) && r.name(row.Signal.Name) && r.metric(row.Signal.Metric) &&
		r.tenant(row.Key.Tenant) && r.app(row.Key.App) && r.model(row.Key.Model) && r.variant(row.Key.Variant) && r.group(row.Signal.Group)
}

// batch collects what one Evaluate call changes.
type batch struct {
	now   time.Time
	rows  []chsink.AlertRow
	notes []note
	// incidents a series joined, left or had a matching window in, in
	// the order they were first touched: settled at the end of Evaluate.
	incidents []*incident
	touched   map[*incident]bool
}

func (b *batch) touch(inc *incident) {
	if b.touched == nil {
		b.touched = map[*incident]bool{}
	}
	if !b.touched[inc] {
		b.touched[inc] = true
		b.incidents = append(b.incidents, inc)
	}
}

// note is a notification to queue: about an incident (inc set: for every
// action but Alertmanager) or about one series (for Alertmanager).
type note struct {
	rule   *rule
	inc    *incident
	n      notify.Notification
	repeat bool
}

// Evaluate runs every rule over rows (signal rows of closed windows), stores
// the state changes in llm_alerts and queues the notifications. It never
// waits for a receiver.
func (e *Engine) Evaluate(ctx context.Context, rows []chsink.SignalRow) {
	b := &batch{now: e.Now()}
	e.mu.Lock()
	for _, inc := range e.recheck {
		b.touch(inc)
	}
	e.recheck = nil
	for i := range rows {
		row := &rows[i]
		if row.WindowStart > e.watermark[row.WindowSeconds] {
			e.watermark[row.WindowSeconds] = row.WindowStart
		}
		for _, r := range e.rules {
			if !r.matches(row) {
				continue
			}
			scope := notify.Scope{Tenant: row.Key.Tenant, App: row.Key.App, Model: row.Key.Model, Variant: row.Key.Variant, Group: row.Signal.Group}
			sig := notify.SignalRef{Name: row.Signal.Name, Metric: row.Signal.Metric}
			fp := Fingerprint(r.Name, scope, sig, row.WindowSeconds)
			s := e.series[fp]
			if s == nil {
				s = e.newSeries(r, scope, sig, row.WindowSeconds)
				e.series[fp] = s
			}
			if row.WindowStart <= s.last {
				if row.Corrected {
					e.correct(s, row, b)
				}
				continue // replayed or already judged as missing
			}
			s.last = row.WindowStart
			v, th := r.check(&row.Signal)
			if v != noData {
				s.remember(row.WindowStart, v == matching)
			}
			s.value, s.threshold, s.n = row.Signal.Value, th, row.Signal.N
			if v == noData {
				s.value = math.NaN()
			}
			e.step(s, v, b)
		}
	}
	// Series without a row in a window that has closed for others have no
	// data in it.
	for fp, s := range e.series {
		wm, ok := e.watermark[s.seconds]
		if !ok || wm <= s.last {
			continue
		}
		if s.state == stateInactive && wm-s.last > forgetAfter*int64(s.seconds) && s.rule.noData != NoDataAlerting {
			delete(e.series, fp)
			continue
		}
		s.last = wm
		s.value, s.n = math.NaN(), 0
		if s.rule.op != nil {
			s.threshold = *s.rule.Threshold
		}
		e.step(s, noData, b)
	}
	e.settle(b)
	e.mu.Unlock()

	// The state rows are written before any notification is queued: a
	// crash in between re-judges the windows after the restart (same
	// incident id, same idempotency keys) rather than forgetting them.
	if err := chsink.Alerts.Insert(ctx, e.conn, b.rows); err != nil {
		e.m.store.Inc()
		e.log.Error("cannot store alert state changes; a restart may repeat them", "rows", len(b.rows), "err", redact.Error(err))
	}
	for _, nt := range b.notes {
		e.dispatch(nt)
	}
	if len(b.rows) > 0 {
		e.updateGauges()
	}
}

// correct re-judges a window evaluated before whose signals were
// corrected (partials arrived after it was first written). A correction
// that completes a run of `for` matching windows fires the alert then (its
// episode starts at the run's first window), unless the series is firing
// already; one that breaks the current pending run resets it. A firing
// series resolves as usual, on the next clear window.
func (e *Engine) correct(s *series, row *chsink.SignalRow, b *batch) {
	if s.last-row.WindowStart >= histWindows*int64(s.seconds) {
		return
	}
	v, th := s.rule.check(&row.Signal)
	if v == noData {
		return
	}
	s.remember(row.WindowStart, v == matching)
	if s.state == stateFiring {
		return
	}
	if n, first := s.run(row.WindowStart); v == matching && n >= s.rule.forN {
		last := s.last
		s.last = row.WindowStart // the notification names the corrected window
		s.value, s.threshold, s.n = row.Signal.Value, th, row.Signal.N
		s.consecutive, s.episode = n, first
		s.alertID = seriesAlertID(s.fp, s.episode)
		s.state, s.notifiedAt = stateFiring, b.now
		e.join(s, b)
		b.rows = append(b.rows, e.stateRow(s, chsink.AlertKindState, stateFiring, b.now))
		e.seriesNote(s, notify.StateFiring, b, false)
		s.last = last
		e.log.Info("alert firing on a corrected window", "rule", s.rule.Name, "alert_id", s.alertID, "scope", s.scope.String(),
			"signal", s.sig.String(), "window_start", row.WindowStart, "value", s.value)
		return
	}
	if s.state == statePending {
		if n, _ := s.run(s.last); n == 0 {
			s.state, s.consecutive = stateInactive, 0
			b.rows = append(b.rows, e.stateRow(s, chsink.AlertKindState, stateInactive, b.now))
		} else {
			s.consecutive = n
		}
	}
}

// step applies one observation to a series.
func (e *Engine) step(s *series, v verdict, b *batch) {
	if v == noData {
		switch s.rule.noData {
		case NoDataOK:
			v = clearing
		case NoDataAlerting:
			v = matching
		default:
			return
		}
	}
	if v == clearing {
		switch s.state {
		case statePending:
			s.state, s.consecutive = stateInactive, 0
			b.rows = append(b.rows, e.stateRow(s, chsink.AlertKindState, stateInactive, b.now))
		case stateFiring:
			s.state, s.consecutive = stateInactive, 0
			e.leave(s, b)
			b.rows = append(b.rows, e.stateRow(s, chsink.AlertKindState, stateResolved, b.now))
			e.seriesNote(s, notify.StateResolved, b, false)
			e.log.Info("alert series resolved", "rule", s.rule.Name, "alert_id", s.alertID, "incident_id", s.incidentID, "scope", s.scope.String())
		}
		return
	}
	switch s.state {
	case stateInactive:
		s.consecutive = 1
		s.episode = s.last
		s.alertID = seriesAlertID(s.fp, s.episode)
	case statePending:
		s.consecutive++
	case stateFiring:
		if inc := e.incidents[s.gfp]; inc != nil && inc.id == s.incidentID {
			inc.matched = true // the incident may be due for re-notification
			b.touch(inc)
		}
		// Series re-notifications only feed Alertmanager, which resolves an
		// alert it is not sent again.
		if s.rule.perSeries && s.rule.Renotify > 0 && b.now.Sub(s.notifiedAt) >= s.rule.Renotify {
			s.notifiedAt = b.now
			b.rows = append(b.rows, e.stateRow(s, chsink.AlertKindRenotify, stateFiring, b.now))
			e.seriesNote(s, notify.StateFiring, b, true)
		}
		return
	}
	if s.consecutive >= s.rule.forN {
		s.state, s.notifiedAt = stateFiring, b.now
		e.join(s, b)
		b.rows = append(b.rows, e.stateRow(s, chsink.AlertKindState, stateFiring, b.now))
		e.seriesNote(s, notify.StateFiring, b, false)
		e.log.Info("alert series firing", "rule", s.rule.Name, "alert_id", s.alertID, "incident_id", s.incidentID, "scope", s.scope.String(),
			"signal", s.sig.String(), "value", s.value)
		return
	}
	s.state = statePending
	b.rows = append(b.rows, e.stateRow(s, chsink.AlertKindState, statePending, b.now))
}

// seriesAlertID is a series' firing episode id: stable for a series and
// the start of the episode's first window.
func seriesAlertID(fp string, episode int64) string {
	return uuid.NewSHA1(uuid.NameSpaceOID, []byte(fp+"/"+strconv.FormatInt(episode, 10))).String()
}

// seriesNote queues a series' own notification when one of its rule's
// actions is an Alertmanager (the others get the incident's).
func (e *Engine) seriesNote(s *series, state string, b *batch, repeat bool) {
	if s.rule.perSeries {
		b.notes = append(b.notes, note{rule: s.rule, n: e.notification(s, state, b.now), repeat: repeat})
	}
}

func (e *Engine) stateRow(s *series, kind, state string, now time.Time) chsink.AlertRow {
	incident := ""
	if state == stateFiring || state == stateResolved {
		incident = s.incidentID // pending and cleared rows belong to no incident
	}
	return chsink.AlertRow{AlertID: s.alertID, IncidentID: incident, Rule: s.rule.Name, Fingerprint: s.fp, Kind: kind, State: state,
		Severity: s.rule.severity, Tenant: s.scope.Tenant, App: s.scope.App, Model: s.scope.Model, Variant: s.scope.Variant,
		Group: s.scope.Group, Signal: s.sig.Name, Metric: s.sig.Metric, Value: s.value, Threshold: s.threshold, Condition: s.rule.condition,
		N: s.n, Consecutive: uint32(s.consecutive), WindowStart: time.Unix(s.last, 0), WindowSeconds: s.seconds,
		StartedAt: time.Unix(s.episode, 0), NotifiedAt: s.notifiedAt, Labels: s.rule.labelsJSON, TS: now, Seq: nextSeq()}
}

func (s *series) window() notify.Window {
	return notify.Window{Start: time.Unix(s.last, 0).UTC(), End: time.Unix(s.last+int64(s.seconds), 0).UTC(), Seconds: s.seconds}
}

func (e *Engine) notification(s *series, state string, now time.Time) notify.Notification {
	w := s.window()
	n := notify.Notification{Version: notify.Version1, AlertID: s.alertID, Rule: s.rule.Name, Fingerprint: s.fp, State: state,
		Severity: s.rule.severity, Signal: s.sig, Value: s.value, Threshold: s.threshold, Condition: s.rule.condition, N: s.n,
		Window: w, Scope: s.scope, Labels: s.rule.Labels, StartsAt: time.Unix(s.episode, 0).UTC(),
		Links: notify.Links{EventsSQL: notify.EventsSQL(s.scope, w, e.cfg.EventsLimit)},
		Span:  notify.Span{Start: time.Unix(s.episode, 0).UTC(), End: w.End}}
	if state == notify.StateResolved {
		n.EndsAt = now.UTC()
	}
	n.Text = n.Summary()
	return n
}

// dispatch queues a notification for each of the rule's actions that
// wants it: an incident's for every action but Alertmanager, a series'
// for Alertmanager (which groups alerts itself and resolves each on its
// own).
func (e *Engine) dispatch(nt note) {
	nt.n.Repeat = nt.repeat
	switch {
	case nt.inc != nil && e.observe != nil:
		e.observe(nt.n)
	case nt.inc == nil && e.observeSeries != nil:
		e.observeSeries(nt.n)
	}
	for _, name := range nt.rule.Actions {
		a := e.actions[name]
		if (a.cfg.Type == notify.TypeAlertmanager) != (nt.inc == nil) {
			continue
		}
		if (nt.n.State == notify.StateResolved && !a.policy.SendResolved) || (nt.repeat && !a.policy.Repeat) {
			continue
		}
		n := nt.n
		n.IdempotencyKey = notify.IdempotencyKey(n.AlertID, name)
		e.disp.TryEnqueue(&notify.Task{Action: name, Type: a.cfg.Type, Target: a.target, Policy: a.policy, Notification: n})
	}
}

// record stores one action attempt (called by the dispatcher's workers).
func (e *Engine) record(a notify.Attempt) {
	t, n := a.Task, &a.Task.Notification
	e.m.actions.WithLabelValues(t.Action, a.Outcome).Inc()
	if a.Outcome == notify.OutcomeDropped {
		e.m.dropped.Inc()
	}
	errText := ""
	if a.Err != nil {
		// The dispatcher hands over redacted errors; redacting again costs
		// little and keeps this log line and row safe whatever the action.
		errText = redact.String(a.Err.Error())
		if a.Outcome == notify.OutcomeFailed {
			// One line per notification given up on (not per attempt): the
			// operator learns which receiver fails without reading llm_alerts.
			e.log.Warn("alert action failed", "action", t.Action, "type", t.Type, "rule", n.Rule, "alert_id", n.AlertID,
				"state", n.State, "attempts", a.Attempt, "status", a.Result.StatusCode, "err", errText)
		}
	}
	incident := ""
	if n.Version >= notify.Version2 {
		incident = n.AlertID
	}
	e.rec.add(chsink.AlertRow{AlertID: n.AlertID, IncidentID: incident, Rule: n.Rule, Fingerprint: n.Fingerprint, Kind: chsink.AlertKindAction,
		State: n.State, Severity: n.Severity,
		Tenant: n.Scope.Tenant, App: n.Scope.App, Model: n.Scope.Model, Variant: n.Scope.Variant, Group: n.Scope.Group,
		Signal: n.Signal.Name, Metric: n.Signal.Metric, Value: n.Value, Threshold: n.Threshold, Condition: n.Condition, N: n.N,
		WindowStart: n.Window.Start, WindowSeconds: n.Window.Seconds, StartedAt: n.StartsAt, Action: t.Action, ActionType: t.Type,
		Attempt: uint32(a.Attempt), Outcome: a.Outcome, StatusCode: int32(a.Result.StatusCode), Error: errText,
		DurationMS: float64(a.Duration.Microseconds()) / 1000, Labels: "{}", TS: a.At, Seq: nextSeq()}, nil)
	if t.Type == notify.TypeJob {
		j := chsink.JobRow{IdempotencyKey: n.IdempotencyKey, AlertID: n.AlertID, Rule: n.Rule, Fingerprint: n.Fingerprint, Action: t.Action,
			Tenant: n.Scope.Tenant, App: n.Scope.App, Model: n.Scope.Model, Variant: n.Scope.Variant, Group: n.Scope.Group,
			WindowStart: n.Window.Start, WindowSeconds: n.Window.Seconds, Attempt: uint32(a.Attempt), Outcome: a.Outcome,
			StatusCode: int32(a.Result.StatusCode), Response: a.Result.Body, Error: errText,
			DurationMS: float64(a.Duration.Microseconds()) / 1000, TS: a.At, Seq: nextSeq()}
		if jb, ok := t.Target.(*notify.Job); ok {
			j.Method, j.URL = jb.Method(), jb.URL()
		}
		e.rec.add(chsink.AlertRow{}, &j)
	}
}

func (e *Engine) updateGauges() {
	counts := map[string]*[3]int{}
	for _, r := range e.rules {
		counts[r.Name] = &[3]int{}
	}
	e.mu.Lock()
	for _, s := range e.series {
		switch s.state {
		case statePending:
			counts[s.rule.Name][0]++
		case stateFiring:
			counts[s.rule.Name][1]++
		}
	}
	for _, inc := range e.incidents {
		counts[inc.rule.Name][2]++
	}
	e.mu.Unlock()
	for name, c := range counts {
		e.m.state.WithLabelValues(name, statePending).Set(float64(c[0]))
		e.m.state.WithLabelValues(name, stateFiring).Set(float64(c[1]))
		e.m.incidents.WithLabelValues(name).Set(float64(c[2]))
	}
}

// QueueLen is the number of notifications waiting for a worker.
func (e *Engine) QueueLen() int { return e.disp.Len() }
