package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sightline-dev/sightline/processors/stats"
)

// The read API (GET /v1/signals, /v1/alerts, /v1/summary) answers from
// ClickHouse. It returns signals, alert history and per-app aggregates,
// never prompt or completion text: the server listens on loopback by
// default and has no authentication, and event content holds personal
// data.

// Limits of one read request.
const (
	defaultRows = 500
	maxRows     = 10000
	// queryTimeout bounds one read so a heavy query cannot pile up.
	queryTimeout = 30 * time.Second
)

// apiError is the body of every error answer.
type apiError struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// badRequest is an error in the request's parameters (400).
type badRequest struct{ msg string }

func (e badRequest) Error() string { return e.msg }

// query holds a read's filters as SQL conditions with their arguments.
type query struct {
	where []string
	args  []any
	limit int
}

// The times a read may name: no event is stored from before 2000 (the
// schema refuses its ts), and ClickHouse's DateTime cannot hold times
// before 1970 or after 2106, so such a bound would match nothing instead
// of everything.
var earliestRead = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

const maxAhead = 24 * time.Hour

// readQuery parses the parameters every read shares: equality filters
// (only those in columns, parameter name -> column), since/until and
// limit. since and until are RFC 3339 times or durations back from now
// ("1h"), from 2000-01-01 to a day ahead; since defaults to 24 hours
// back, until to now.
func readQuery(v url.Values, timeColumn string, columns map[string]string) (query, error) {
	var q query
	for name := range v {
		if _, ok := columns[name]; !ok && name != "since" && name != "until" && name != "limit" {
			return q, badRequest{fmt.Sprintf("unknown parameter %q", name)}
		}
	}
	now := time.Now()
	since, err := parseTime(v.Get("since"), now.Add(-24*time.Hour), now)
	if err != nil {
		return q, badRequest{"since: " + err.Error()}
	}
	until, err := parseTime(v.Get("until"), now, now)
	if err != nil {
		return q, badRequest{"until: " + err.Error()}
	}
	for _, t := range []struct {
		name string
		at   time.Time
	}{{"since", since}, {"until", until}} {
		if t.at.Before(earliestRead) || t.at.After(now.Add(maxAhead)) {
			return q, badRequest{fmt.Sprintf("%s: must be between %s and a day from now", t.name, earliestRead.Format(time.RFC3339))}
		}
	}
	if !until.After(since) {
		return q, badRequest{"until must be after since"}
	}
	// DateTime compared with whole seconds: binding integers works on
	// every server version from 18.16.
	q.where = append(q.where, timeColumn+" >= toDateTime(?)", timeColumn+" < toDateTime(?)")
	q.args = append(q.args, since.Unix(), until.Unix())
	for name, col := range columns {
		if val, ok := v[name]; ok {
			q.where = append(q.where, col+" = ?")
			q.args = append(q.args, val[0])
		}
	}
	q.limit = defaultRows
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxRows {
			return q, badRequest{fmt.Sprintf("limit: must be a whole number from 1 to %d", maxRows)}
		}
		q.limit = n
	}
	return q, nil
}

func parseTime(s string, def, now time.Time) (time.Time, error) {
	if s == "" {
		return def, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, errors.New("a duration back from now must not be negative")
		}
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, errors.New("want an RFC 3339 time (2025-10-01T12:00:00Z) or a duration back from now (1h)")
	}
	return t, nil
}

func (q query) sql() string { return strings.Join(q.where, " AND ") }

// read runs one API read: parse, query, answer.
func (s *Server) read(w http.ResponseWriter, r *http.Request, run func(ctx context.Context, conn driver.Conn) (any, error)) {
	if s.cfg.Query == nil {
		writeJSON(w, http.StatusServiceUnavailable, apiError{"this process has no ClickHouse to read from"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), queryTimeout)
	defer cancel()
	out, err := run(ctx, s.cfg.Query)
	var br badRequest
	switch {
	case errors.As(err, &br):
		writeJSON(w, http.StatusBadRequest, apiError{br.msg})
	case err != nil:
		writeJSON(w, http.StatusInternalServerError, apiError{err.Error()})
	default:
		writeJSON(w, http.StatusOK, out)
	}
}

// Signal is one row of GET /v1/signals. Bounds, p-value and threshold are
// null when the signal has none.
type Signal struct {
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

// signals answers GET /v1/signals?app=&model=&tenant=&variant=&signal=
// &metric=&group=&window_seconds=&flagged=true&since=&until=&limit=,
// oldest window first.
func (s *Server) signals(w http.ResponseWriter, r *http.Request) {
	s.read(w, r, func(ctx context.Context, conn driver.Conn) (any, error) {
		v := r.URL.Query()
		// The parameters that are not plain string filters.
		var extra []string
		var extraArgs []any
		if f := v.Get("flagged"); f != "" {
			b, err := strconv.ParseBool(f)
			if err != nil {
				return nil, badRequest{"flagged: want true or false"}
			}
			if b {
				extra = append(extra, "decision = 1")
			}
			v.Del("flagged")
		}
		if ws := v.Get("window_seconds"); ws != "" {
			n, err := strconv.ParseUint(ws, 10, 32)
			if err != nil {
				return nil, badRequest{"window_seconds: want a whole number of seconds"}
			}
			extra, extraArgs = append(extra, "window_seconds = ?"), append(extraArgs, n)
			v.Del("window_seconds")
		}
		q, err := readQuery(v, "window_start", map[string]string{"tenant": "tenant", "app": "app", "model": "model",
			"variant": "variant", "signal": "signal", "metric": "metric", "group": "grp"})
		if err != nil {
			return nil, err
		}
		q.where, q.args = append(q.where, extra...), append(q.args, extraArgs...)
		rows, err := conn.Query(ctx, `SELECT tenant, app, model, variant, window_start, window_seconds, signal, metric, grp,
			value, n, lo, hi, p_value, threshold, decision, baseline, details
			FROM llm_signals FINAL WHERE `+q.sql()+`
			ORDER BY window_start, tenant, app, model, variant, signal, metric, grp LIMIT `+strconv.Itoa(q.limit), q.args...)
		if err != nil {
			return nil, fmt.Errorf("cannot read llm_signals: %w", err)
		}
		defer rows.Close()
		out := []Signal{}
		for rows.Next() {
			var (
				sg       Signal
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
		return map[string]any{"signals": out}, nil
	})
}

// AlertRow is one row of GET /v1/alerts: a state change of an alert or
// the outcome of one of its actions.
type AlertRow struct {
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
}

// alerts answers GET /v1/alerts?rule=&state=&kind=&app=&model=&tenant=
// &since=&until=&limit=, in the order they were recorded.
func (s *Server) alerts(w http.ResponseWriter, r *http.Request) {
	s.read(w, r, func(ctx context.Context, conn driver.Conn) (any, error) {
		q, err := readQuery(r.URL.Query(), "ts", map[string]string{"rule": "rule", "state": "state", "kind": "kind",
			"app": "app", "model": "model", "tenant": "tenant", "severity": "severity"})
		if err != nil {
			return nil, err
		}
		rows, err := conn.Query(ctx, `SELECT ts, alert_id, rule, kind, state, severity, tenant, app, model, variant, grp,
			signal, metric, value, threshold, n, window_start, window_seconds, action, action_type, attempt, outcome,
			status_code, error
			FROM llm_alerts WHERE `+q.sql()+` ORDER BY seq LIMIT `+strconv.Itoa(q.limit), q.args...)
		if err != nil {
			return nil, fmt.Errorf("cannot read llm_alerts: %w", err)
		}
		defer rows.Close()
		out := []AlertRow{}
		for rows.Next() {
			var (
				a                AlertRow
				value, threshold float64
			)
			if err := rows.Scan(&a.Time, &a.AlertID, &a.Rule, &a.Kind, &a.State, &a.Severity, &a.Tenant, &a.App, &a.Model,
				&a.Variant, &a.Group, &a.Signal, &a.Metric, &value, &threshold, &a.N, &a.WindowStart, &a.WindowSeconds,
				&a.Action, &a.ActionType, &a.Attempt, &a.Outcome, &a.StatusCode, &a.Error); err != nil {
				return nil, fmt.Errorf("cannot read llm_alerts: %w", err)
			}
			a.Time, a.WindowStart = a.Time.UTC(), a.WindowStart.UTC()
			a.Value, a.Threshold = stats.FiniteOrNil(value), stats.FiniteOrNil(threshold)
			out = append(out, a)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("cannot read llm_alerts: %w", err)
		}
		return map[string]any{"alerts": out}, nil
	})
}

// AppSummary is one row of GET /v1/summary: the calls of one app and
// model in the time range.
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

// summary answers GET /v1/summary?tenant=&app=&model=&since=&until=:
// calls per tenant, app and model (deduplicated), by call time.
func (s *Server) summary(w http.ResponseWriter, r *http.Request) {
	s.read(w, r, func(ctx context.Context, conn driver.Conn) (any, error) {
		q, err := readQuery(r.URL.Query(), "ts", map[string]string{"tenant": "tenant", "app": "app", "model": "model"})
		if err != nil {
			return nil, err
		}
		rows, err := conn.Query(ctx, `SELECT tenant, app, model, count(), sum(is_error),
			quantiles(0.5, 0.9, 0.99)(duration_ms), sum(total_tokens), sum(cost_usd), min(ts), max(ts)
			FROM llm_events FINAL WHERE `+q.sql()+`
			GROUP BY tenant, app, model ORDER BY tenant, app, model LIMIT `+strconv.Itoa(q.limit), q.args...)
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
		return map[string]any{"apps": out}, nil
	})
}
