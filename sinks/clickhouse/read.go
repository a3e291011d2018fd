package clickhouse

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sightline-dev/sightline/processors/stats"
)

// The read queries of the read API and the CLI. Filters name columns from a
// fixed list per query and bind every value: no text from a request ever
// becomes SQL. Times bind as whole Unix seconds (toDateTime(?)), which
// every server from 18.16 on accepts.

// Eq is an equality filter on a column the query allows.
type Eq struct {
	Column string
	Value  string
}

// Range is the time range and row limit of a read.
type Range struct {
	Since, Until time.Time
	Limit        int
}

// where builds "time column in range AND col = ? ..." for the allowed
// columns (an unknown column is an error: a bug in the caller).
func where(timeColumn string, r Range, allowed []string, eqs []Eq, extra ...string) (string, []any, error) {
	conds := []string{timeColumn + " >= toDateTime(?)", timeColumn + " < toDateTime(?)"}
	args := []any{r.Since.Unix(), r.Until.Unix()}
	for _, e := range eqs {
		ok := false
		for _, a := range allowed {
			ok = ok || a == e.Column
		}
		if !ok {
			return "", nil, fmt.Errorf("cannot filter on column %q", e.Column)
		}
		conds = append(conds, e.Column+" = ?")
		args = append(args, e.Value)
	}
	conds = append(conds, extra...)
	return strings.Join(conds, " AND "), args, nil
}

// onlyTenant is the condition a read restricted to one tenant carries
// (none when tenant is empty): the filter structs' Tenant, set from the
// caller's API key.
func onlyTenant(eqs []Eq, tenant string) []Eq {
	if tenant == "" {
		return eqs
	}
	return append(slices.Clone(eqs), Eq{Column: "tenant", Value: tenant})
}

func limit(n int) string {
	if n < 1 {
		n = 1
	}
	return " LIMIT " + strconv.Itoa(n)
}

// SignalView is one llm_signals row as the read API shows it. Bounds,
// p-value and threshold are null when the signal has none.
type SignalView struct {
	Tenant        string          `json:"tenant"`
	App           string          `json:"app"`
	Model         string          `json:"model"`
	Variant       string          `json:"variant"`
	WindowStart   time.Time       `json:"window_start"`
	WindowSeconds uint32          `json:"window_seconds"`
	Signal        string          `json:"signal"`
	Metric        string          `json:"metric"`
	Group         string          `json:"group,omitempty"`
	Value         *float64        `json:"value"`
	N             uint64          `json:"n"`
	Lo            *float64        `json:"lo"`
	Hi            *float64        `json:"hi"`
	PValue        *float64        `json:"p_value"`
	Threshold     *float64        `json:"threshold"`
	Flagged       bool            `json:"flagged"`
	Baseline      string          `json:"baseline,omitempty"`
	Details       json.RawMessage `json:"details,omitempty"`
}

// SignalFilterColumns are the columns ReadSignals filters on.
var SignalFilterColumns = []string{"tenant", "app", "model", "variant", "signal", "metric", "grp"}

// SignalFilter selects signal rows.
type SignalFilter struct {
	// Tenant, when set, keeps only that tenant's rows: the tenant of the
	// caller's API key, set by the server, never from a request parameter.
	Tenant        string
	Eq            []Eq
	WindowSeconds uint32 // 0: any
	FlaggedOnly   bool
	Range
}

func (f SignalFilter) sql() (string, []any, error) {
	var extra []string
	if f.FlaggedOnly {
		extra = append(extra, "decision = 1")
	}
	w, args, err := where("window_start", f.Range, SignalFilterColumns, onlyTenant(f.Eq, f.Tenant), extra...)
	if err != nil {
		return "", nil, err
	}
	if f.WindowSeconds > 0 {
		w += " AND window_seconds = ?"
		args = append(args, f.WindowSeconds)
	}
	return `SELECT tenant, app, model, variant, window_start, window_seconds, signal, metric, grp,
	value, n, lo, hi, p_value, threshold, decision, baseline, details
FROM llm_signals FINAL WHERE ` + w + `
ORDER BY window_start, tenant, app, model, variant, signal, metric, grp` + limit(f.Limit), args, nil
}

// ReadSignals reads signal rows (deduplicated: corrected windows show
// their latest version), oldest window first.
func ReadSignals(ctx context.Context, conn driver.Conn, f SignalFilter) ([]SignalView, error) {
	q, args, err := f.sql()
	if err != nil {
		return nil, err
	}
	rows, err := conn.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("cannot read llm_signals: %w", err)
	}
	defer rows.Close()
	out := []SignalView{}
	for rows.Next() {
		var (
			sg       SignalView
			value    float64
			decision uint8
			details  string
		)
		if err := rows.Scan(&sg.Tenant, &sg.App, &sg.Model, &sg.Variant, &sg.WindowStart, &sg.WindowSeconds, &sg.Signal,
			&sg.Metric, &sg.Group, &value, &sg.N, &sg.Lo, &sg.Hi, &sg.PValue, &sg.Threshold, &decision, &sg.Baseline, &details); err != nil {
			return nil, fmt.Errorf("cannot read llm_signals: %w", err)
		}
		sg.WindowStart = sg.WindowStart.UTC()
		sg.Value = stats.FiniteOrNil(value)
		sg.Flagged = decision == 1
		if details != "" && details != "{}" && json.Valid([]byte(details)) {
			sg.Details = json.RawMessage(details)
		}
		out = append(out, sg)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot read llm_signals: %w", err)
	}
	return out, nil
}

// AlertView is one llm_alerts row as the read API shows it: a state change
// of an alert or the outcome of one of its actions.
type AlertView struct {
	Time          time.Time `json:"time"`
	AlertID       string    `json:"alert_id"`
	Rule          string    `json:"rule"`
	Kind          string    `json:"kind"`
	State         string    `json:"state"`
	Severity      string    `json:"severity"`
	Tenant        string    `json:"tenant"`
	App           string    `json:"app"`
	Model         string    `json:"model"`
	Variant       string    `json:"variant"`
	Group         string    `json:"group,omitempty"`
	Signal        string    `json:"signal"`
	Metric        string    `json:"metric"`
	Value         *float64  `json:"value"`
	Threshold     *float64  `json:"threshold"`
	N             uint64    `json:"n"`
	WindowStart   time.Time `json:"window_start"`
	WindowSeconds uint32    `json:"window_seconds"`
	Action        string    `json:"action,omitempty"`
	ActionType    string    `json:"action_type,omitempty"`
	Attempt       uint32    `json:"attempt,omitempty"`
	Outcome       string    `json:"outcome,omitempty"`
	StatusCode    int32     `json:"status_code,omitempty"`
	Error         string    `json:"error,omitempty"`
	// IncidentID is the incident the row belongs to: a rule's group_by
	// gathers series into incidents, notified once each.
	IncidentID string `json:"incident_id,omitempty"`
}

// AlertFilterColumns are the columns ReadAlerts filters on.
var AlertFilterColumns = []string{"rule", "state", "kind", "app", "model", "tenant", "severity", "incident_id"}

// AlertFilter selects alert rows.
type AlertFilter struct {
	// Tenant, when set, keeps only that tenant's rows: the tenant of the
	// caller's API key, set by the server, never from a request parameter.
	Tenant string
	Eq     []Eq
	Range
}

func (f AlertFilter) sql() (string, []any, error) {
	w, args, err := where("ts", f.Range, AlertFilterColumns, onlyTenant(f.Eq, f.Tenant))
	if err != nil {
		return "", nil, err
	}
	return `SELECT ts, alert_id, rule, kind, state, severity, tenant, app, model, variant, grp,
	signal, metric, value, threshold, n, window_start, window_seconds, action, action_type, attempt, outcome,
	status_code, error, incident_id
FROM llm_alerts WHERE ` + w + ` ORDER BY seq` + limit(f.Limit), args, nil
}

// ReadAlerts reads alert state changes and action attempts in the order
// they were recorded.
func ReadAlerts(ctx context.Context, conn driver.Conn, f AlertFilter) ([]AlertView, error) {
	q, args, err := f.sql()
	if err != nil {
		return nil, err
	}
	rows, err := conn.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("cannot read llm_alerts: %w", err)
	}
	defer rows.Close()
	out := []AlertView{}
	for rows.Next() {
		var (
			a                AlertView
			value, threshold float64
		)
		if err := rows.Scan(&a.Time, &a.AlertID, &a.Rule, &a.Kind, &a.State, &a.Severity, &a.Tenant, &a.App, &a.Model,
			&a.Variant, &a.Group, &a.Signal, &a.Metric, &value, &threshold, &a.N, &a.WindowStart, &a.WindowSeconds,
			&a.Action, &a.ActionType, &a.Attempt, &a.Outcome, &a.StatusCode, &a.Error, &a.IncidentID); err != nil {
			return nil, fmt.Errorf("cannot read llm_alerts: %w", err)
		}
		a.Time, a.WindowStart = a.Time.UTC(), a.WindowStart.UTC()
		a.Value, a.Threshold = stats.FiniteOrNil(value), stats.FiniteOrNil(threshold)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot read llm_alerts: %w", err)
	}
	return out, nil
}

// AppSummary is the calls of one tenant, app and model in a time range.
type AppSummary struct {
	Tenant       string  `json:"tenant"`
	App          string  `json:"app"`
	Model        string  `json:"model"`
	Events       uint64  `json:"events"`
	Errors       uint64  `json:"errors"`
	P50Ms        float64 `json:"p50_ms"`
	P90Ms        float64 `json:"p90_ms"`
	P99Ms        float64 `json:"p99_ms"`
	Tokens       int64   `json:"tokens"`
	CostUSD      float64 `json:"cost_usd"`
	FirstEventAt string  `json:"first_event_at"`
	LastEventAt  string  `json:"last_event_at"`
}

// SummaryFilterColumns are the columns ReadSummary filters on.
var SummaryFilterColumns = []string{"tenant", "app", "model"}

// SummaryFilter selects the events summarised.
type SummaryFilter struct {
	// Tenant, when set, keeps only that tenant's rows: the tenant of the
	// caller's API key, set by the server, never from a request parameter.
	Tenant string
	Eq     []Eq
	Range
}

func (f SummaryFilter) sql() (string, []any, error) {
	w, args, err := where("ts", f.Range, SummaryFilterColumns, onlyTenant(f.Eq, f.Tenant))
	if err != nil {
		return "", nil, err
	}
	return `SELECT tenant, app, model, count(), sum(is_error),
	quantiles(0.5, 0.9, 0.99)(duration_ms), sum(total_tokens), sum(cost_usd), min(ts), max(ts)
FROM llm_events FINAL WHERE ` + w + `
GROUP BY tenant, app, model ORDER BY tenant, app, model` + limit(f.Limit), args, nil
}

// ReadSummary summarises the calls (deduplicated) per tenant, app and
// model, by call time.
func ReadSummary(ctx context.Context, conn driver.Conn, f SummaryFilter) ([]AppSummary, error) {
	q, args, err := f.sql()
	if err != nil {
		return nil, err
	}
	rows, err := conn.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("cannot read llm_events: %w", err)
	}
	defer rows.Close()
	out := []AppSummary{}
	for rows.Next() {
		var (
			a           AppSummary
			qs          []float64
			first, last time.Time
		)
		if err := rows.Scan(&a.Tenant, &a.App, &a.Model, &a.Events, &a.Errors, &qs, &a.Tokens, &a.CostUSD, &first, &last); err != nil {
			return nil, fmt.Errorf("cannot read llm_events: %w", err)
		}
		if len(qs) == 3 {
			a.P50Ms, a.P90Ms, a.P99Ms = qs[0], qs[1], qs[2]
		}
		a.FirstEventAt, a.LastEventAt = first.UTC().Format(time.RFC3339), last.UTC().Format(time.RFC3339)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot read llm_events: %w", err)
	}
	return out, nil
}

// JobView is one llm_jobs row (a job request attempt) as the CLI shows it.
type JobView struct {
	Rule, Action, IdempotencyKey, Outcome string
	Attempt                               uint32
	StatusCode                            int32
}

const jobsQuery = `SELECT rule, action, idempotency_key, attempt, outcome, status_code FROM llm_jobs
ORDER BY rule, idempotency_key, attempt LIMIT ?`

// ReadJobs reads job request attempts by rule and idempotency key.
func ReadJobs(ctx context.Context, conn driver.Conn, limit int) ([]JobView, error) {
	rows, err := conn.Query(ctx, jobsQuery, uint64(max(limit, 1)))
	if err != nil {
		return nil, fmt.Errorf("cannot read llm_jobs: %w", err)
	}
	defer rows.Close()
	var out []JobView
	for rows.Next() {
		var j JobView
		if err := rows.Scan(&j.Rule, &j.Action, &j.IdempotencyKey, &j.Attempt, &j.Outcome, &j.StatusCode); err != nil {
			return nil, fmt.Errorf("cannot read llm_jobs: %w", err)
		}
		out = append(out, j)
	}
	return out, rows.Err()
}
