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

// Notification is one firing (or re-notified) or resolved alert, as every
// action receives it. Its JSON form is the webhook and Kafka payload.
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
	// IdempotencyKey is the same for every attempt and notification of a
	// firing episode of one action (set by the dispatcher per action).
	IdempotencyKey string `json:"idempotency_key,omitempty"`
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
	fmt.Fprintf(&b, "%s: %s = %s (%s) for %s", n.Rule, n.Signal, FormatValue(n.Value), n.Condition, n.Scope)
	return b.String()
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
	b.WriteString("SELECT * FROM llm_events FINAL WHERE tenant = ")
	b.WriteString(quote(s.Tenant))
	b.WriteString(" AND app = " + quote(s.App))
	b.WriteString(" AND model = " + quote(s.Model))
	b.WriteString(" AND variant = " + quote(s.Variant))
	fmt.Fprintf(&b, " AND ts >= toDateTime(%d) AND ts < toDateTime(%d)", w.Start.Unix(), w.Start.Unix()+int64(w.Seconds))
	if k, v, ok := strings.Cut(s.Group, "="); ok {
		fmt.Fprintf(&b, " AND has(segment_keys, %s) AND segment_values[indexOf(segment_keys, %s)] = %s", quote(k), quote(k), quote(v))
	}
	fmt.Fprintf(&b, " ORDER BY ts, ts_us LIMIT %d", limit)
	return b.String()
}

// quote makes a ClickHouse string literal.
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	return "'" + r.Replace(s) + "'"
}
