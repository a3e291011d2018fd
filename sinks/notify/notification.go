package notify

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Notification states.
const (
	StateFiring   = "firing"
	StateResolved = "resolved"
)

// Scope is the series an alert is about: the aggregation key of its
// signal rows and the segment group, if any.
type Scope struct {
	Tenant  string `json:"tenant"`
	App     string `json:"app"`
	Model   string `json:"model"`
	Variant string `json:"variant"`
	Group   string `json:"group,omitempty"`
}

// SignalRef names the signal row a rule matched.
type SignalRef struct {
	Name   string `json:"name"`
	Metric string `json:"metric"`
}

// String is "name/metric", the form rules use.
func (s SignalRef) String() string { return s.Name + "/" + s.Metric }

// Window is the aggregation window of the row that caused the notification.
type Window struct {
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Seconds uint32    `json:"seconds"`
}

// Links help a receiver fetch what the alert is about.
type Links struct {
	// EventsSQL is a ClickHouse query returning the affected events (the
	// scope and window of the alert) from llm_events.
	EventsSQL string `json:"events_sql"`
}

// Notification versions. Version 2 adds the incident fields (GroupBy,
// Members, MembersTotal, MembersFiring); Span is set on both.
const (
	// Version1 is about one series: what Alertmanager actions receive.
	Version1 = 1
	// Version2 is about an incident: one firing of a rule's group
	// (group_by) with its member series. Webhook, Slack, job and Kafka
	// actions receive these.
	Version2 = 2
)

// DefaultEventsLimit is the LIMIT of the events query in Links unless
// the alert engine's events_limit says otherwise.
const DefaultEventsLimit = 1000

// MaxMembers bounds the members a notification lists (MembersTotal counts
// them all), so one incident over thousands of series stays one bounded
// request.
const MaxMembers = 100

// Notification is one firing (or re-notified) or resolved alert, as every
// action receives it. Its JSON form is the webhook and Kafka payload.
//
// In a version 2 notification (an incident) the version 1 fields keep
// their meaning for the incident as a whole: AlertID is the incident's id
// (one per firing of the group, stable across restarts), Fingerprint the
// group's, Scope what all members share (a key they differ in is empty),
// StartsAt when the incident started; Signal, Value, Threshold, N and
// Window are those of the lead member, the firing one farthest past the
// threshold. A receiver that only reads version 1 fields therefore gets one
// notification per incident describing its worst series.
type Notification struct {
	Version     int       `json:"version"`
	AlertID     string    `json:"alert_id"`
	Rule        string    `json:"rule"`
	Fingerprint string    `json:"fingerprint"`
	State       string    `json:"state"`
	Severity    string    `json:"severity"`
	Signal      SignalRef `json:"signal"`
	// Value is the signal's value in the window (NaN when the alert is
	// about missing data; JSON null).
	Value float64 `json:"-"`
	// Threshold is the rule's threshold, or the test's own for "drifted" /
	// "significant" rules (NaN when there is none).
	Threshold float64 `json:"-"`
	// Condition is what the rule checks, e.g. "> 0.1" or "drifted".
	Condition string            `json:"condition"`
	N         uint64            `json:"n"`
	Window    Window            `json:"window"`
	Scope     Scope             `json:"scope"`
	Labels    map[string]string `json:"labels,omitempty"`
	StartsAt  time.Time         `json:"starts_at"`
	// EndsAt is set when State is resolved.
	EndsAt time.Time `json:"ends_at,omitzero"`
	// Repeat is true for a re-notification of an alert already notified.
	Repeat bool   `json:"repeat"`
	Links  Links  `json:"links"`
	Text   string `json:"summary"`
	// IdempotencyKey is the same for every attempt and notification of an
	// incident (or series episode) of one action (set per action).
	IdempotencyKey string `json:"idempotency_key,omitempty"`

	// Span is the range of the alert's events: from StartsAt to the end of
	// the newest window evaluated (of any member). Job templates use it as
	// the range to re-evaluate.
	Span Span `json:"span"`
	// GroupBy names the scope keys the rule groups its series by (version
	// 2; empty: one incident for all the rule's series).
	GroupBy []string `json:"group_by,omitempty"`
	// Members are the incident's series (version 2): every series that
	// fired during it, firing ones first and the worst of them (the lead)
	// first, at most MaxMembers.
	Members []Member `json:"members,omitempty"`
	// MembersTotal and MembersFiring count all members, listed or not
	// (version 2; zero in version 1).
	MembersTotal  int `json:"members_total"`
	MembersFiring int `json:"members_firing"`
}

// Span is a time range [Start, End).
type Span struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Member is one series of an incident. A series that resolved while
// others kept the incident firing stays a member, with State resolved.
type Member struct {
	// AlertID is the series' own firing episode (what `sightline reeval
	// --alert-id` and llm_alerts.alert_id know it by).
	AlertID     string    `json:"alert_id"`
	Fingerprint string    `json:"fingerprint"`
	State       string    `json:"state"`
	Scope       Scope     `json:"scope"`
	Signal      SignalRef `json:"signal"`
	// Value and Threshold as in Notification, for the member's newest
	// window evaluated.
	Value     float64   `json:"-"`
	Threshold float64   `json:"-"`
	N         uint64    `json:"n"`
	Window    Window    `json:"window"`
	StartsAt  time.Time `json:"starts_at"`
	EndsAt    time.Time `json:"ends_at,omitzero"`
}

// MarshalJSON writes Value and Threshold as numbers, or null when not
// finite.
func (m Member) MarshalJSON() ([]byte, error) {
	type plain Member
	return json.Marshal(struct {
		plain
		Value     *float64 `json:"value"`
		Threshold *float64 `json:"threshold"`
	}{plain(m), finite(m.Value), finite(m.Threshold)})
}

// MarshalJSON writes Value and Threshold as numbers, or null when not
// finite.
func (n Notification) MarshalJSON() ([]byte, error) {
	type plain Notification
	return json.Marshal(struct {
		plain
		Value     *float64 `json:"value"`
		Threshold *float64 `json:"threshold"`
	}{plain(n), finite(n.Value), finite(n.Threshold)})
}

func finite(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// Summary is a one-line human description.
func (n Notification) Summary() string {
	if n.Text != "" {
		return n.Text
	}
	var b strings.Builder
	if n.State == StateResolved {
		b.WriteString("[RESOLVED] ")
	} else {
		b.WriteString("[" + strings.ToUpper(n.Severity) + "] ")
	}
	if n.Version < Version2 {
		fmt.Fprintf(&b, "%s: %s = %s (%s) for %s", n.Rule, n.Signal, FormatValue(n.Value), n.Condition, n.Scope)
		return b.String()
	}
	fmt.Fprintf(&b, "%s: %s %s", n.Rule, n.Signal, n.Condition)
	if n.State == StateResolved {
		fmt.Fprintf(&b, " resolved in all %d series of %s", n.MembersTotal, n.GroupLabel())
		return b.String()
	}
	fmt.Fprintf(&b, " firing in %d of %d series of %s; worst %s", n.MembersFiring, n.MembersTotal, n.GroupLabel(), FormatValue(n.Value))
	if len(n.Members) > 0 {
		if l := n.MemberLabel(n.Members[0]); l != "" {
			b.WriteString(" (" + l + ")")
		}
	}
	return b.String()
}

// GroupLabel names the incident's group, e.g. "tenant=acme app=support"
// ("all series" when the rule groups by nothing).
func (n Notification) GroupLabel() string {
	var parts []string
	for _, k := range n.GroupBy {
		v, _ := GroupValue(n.Scope, n.Signal, k)
		parts = append(parts, k+"="+v)
	}
	if len(parts) == 0 {
		return "all series"
	}
	return strings.Join(parts, " ")
}

// MemberLabel names a member within its incident: the parts of its scope
// the group does not fix, e.g. "gpt-4o/control" in a group by tenant and
// app, and its signal when the members' signals differ.
func (n Notification) MemberLabel(m Member) string {
	grouped := map[string]bool{}
	for _, k := range n.GroupBy {
		grouped[k] = true
	}
	var parts []string
	for _, k := range []string{"tenant", "app", "model", "variant"} {
		if v, _ := GroupValue(m.Scope, m.Signal, k); !grouped[k] {
			parts = append(parts, v)
		}
	}
	out := strings.Join(parts, "/")
	if m.Scope.Group != "" && !grouped["group"] {
		out = strings.TrimSpace(out + " " + m.Scope.Group)
	}
	for _, o := range n.Members {
		if o.Signal != m.Signal && !grouped["signal"] {
			return strings.TrimSpace(out + " " + m.Signal.String())
		}
	}
	return out
}

// GroupKeys are the scope keys a rule may group by, in canonical order.
var GroupKeys = []string{"tenant", "app", "model", "variant", "group", "signal"}

// GroupValue is the value of a group key (one of GroupKeys) in a scope and
// signal; ok is false for an unknown key.
func GroupValue(s Scope, sig SignalRef, key string) (v string, ok bool) {
	switch key {
	case "tenant":
		return s.Tenant, true
	case "app":
		return s.App, true
	case "model":
		return s.Model, true
	case "variant":
		return s.Variant, true
	case "group":
		return s.Group, true
	case "signal":
		return sig.String(), true
	}
	return "", false
}

// String is tenant/app/model/variant[/group].
func (s Scope) String() string {
	out := s.Tenant + "/" + s.App + "/" + s.Model + "/" + s.Variant
	if s.Group != "" {
		out += " " + s.Group
	}
	return out
}

// FormatValue prints a value compactly ("no data" for NaN).
func FormatValue(v float64) string {
	if math.IsNaN(v) {
		return "no data"
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}

// EventsSQL returns a ClickHouse query for the events of a scope and
// window in llm_events (deduplicated with FINAL). A group "key=value"
// filters on the event's segment attribute of that name.
func EventsSQL(s Scope, w Window, limit int) string {
	var b strings.Builder
	b.WriteString("SELECT * FROM llm_events FINAL WHERE ")
	b.WriteString(scopeCond(s))
	fmt.Fprintf(&b, " AND ts >= toDateTime(%d) AND ts < toDateTime(%d)", w.Start.Unix(), w.Start.Unix()+int64(w.Seconds))
	if g := groupCond(s); g != "" {
		b.WriteString(" AND " + g)
	}
	fmt.Fprintf(&b, " ORDER BY ts, ts_us LIMIT %d", limit)
	return b.String()
}

// IncidentEventsSQL returns a ClickHouse query for the events of an
// incident: those of its members' scopes in its span.
func IncidentEventsSQL(members []Member, span Span, limit int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "SELECT * FROM llm_events FINAL WHERE ts >= toDateTime(%d) AND ts < toDateTime(%d) AND (", span.Start.Unix(), span.End.Unix())
	seen := map[Scope]bool{}
	for _, m := range members {
		if seen[m.Scope] {
			continue // the 1m series and the 1h rollup of one scope
		}
		seen[m.Scope] = true
		if len(seen) > 1 {
			b.WriteString(" OR ")
		}
		b.WriteString("(" + scopeCond(m.Scope))
		if g := groupCond(m.Scope); g != "" {
			b.WriteString(" AND " + g)
		}
		b.WriteString(")")
	}
	if len(seen) == 0 {
		b.WriteString("0")
	}
	fmt.Fprintf(&b, ") ORDER BY ts, ts_us LIMIT %d", limit)
	return b.String()
}

func scopeCond(s Scope) string {
	return "tenant = " + quote(s.Tenant) + " AND app = " + quote(s.App) + " AND model = " + quote(s.Model) + " AND variant = " + quote(s.Variant)
}

func groupCond(s Scope) string {
	k, v, ok := strings.Cut(s.Group, "=")
	if !ok {
		return ""
	}
	return fmt.Sprintf("has(segment_keys, %s) AND segment_values[indexOf(segment_keys, %s)] = %s", quote(k), quote(k), quote(v))
}

// quote makes a ClickHouse string literal.
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	return "'" + r.Replace(s) + "'"
}
