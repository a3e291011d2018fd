package clickhouse

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// The Console's reads (internal/console). Every statement is built from
// fixed fragments; values from a request only ever travel as bound
// arguments. ConsoleStatements lists every shape a builder can produce
// (testdata/console/*.sql, run against the real server by
// TestConsoleStatementsRun), and builders only add the fragments listed
// there, so the statements checked are all the statements there are.
//
// The forms are those ClickHouse 18.16 and current releases run alike:
// no window functions or tuple comparison; argMax over the version column
// where a FINAL over millions of rows would be slow; keyset pagination.

// ConsoleStmt is one query with its bound arguments. Name identifies its
// shape: statements with equal names differ only in which optional
// fragments (listed in their golden file) they carry.
type ConsoleStmt struct {
	Name string
	SQL  string
	Args []any
}

// ConsoleScope narrows a Console read: the key fields (empty matches
// any) and the half-open time range [From, To).
type ConsoleScope struct {
	Tenant, App, Model, Variant string
	From, To                    time.Time
}

// where builds "<time conditions> AND <key conditions>" over the columns
// given (the key columns are named alike in every table the Console reads).
func (s ConsoleScope) where(timeCol string) ([]string, []any) {
	conds := []string{timeCol + " >= toDateTime(?)", timeCol + " < toDateTime(?)"}
	args := []any{s.From.Unix(), s.To.Unix()}
	for _, f := range []struct{ col, v string }{{"tenant", s.Tenant}, {"app", s.App}, {"model", s.Model}, {"variant", s.Variant}} {
		if f.v != "" {
			conds = append(conds, f.col+" = ?")
			args = append(args, f.v)
		}
	}
	return conds, args
}

func and(conds []string) string { return strings.Join(conds, " AND ") }

// KeyWindows is one key's windows of one size in scope: how many, and
// the calls they counted.
type KeyWindows struct {
	Seconds                     uint32
	Tenant, App, Model, Variant string
	Windows                     uint64
	Calls                       float64
}

// SignalKeyWindowsStmt lists, per window size and key, the windows with
// signals in scope and their calls (each window's newest version): the
// sizes a view can draw and the keys it can show, from one read of the
// events/count rows. PREWHERE reads the row's subject first: llm_signals
// is sorted by key and subject, not by time, so a time range alone prunes
// nothing.
func SignalKeyWindowsStmt(s ConsoleScope) ConsoleStmt {
	conds, args := s.where("window_start")
	return ConsoleStmt{Name: "signal_key_windows", SQL: `SELECT window_seconds, tenant, app, model, variant, count() AS windows, sum(v) AS calls FROM (
	SELECT window_seconds, tenant, app, model, variant, window_start, argMax(value, computed_at) AS v
	FROM llm_signals
	PREWHERE signal = 'events' AND metric = 'count' AND grp = ''
	WHERE ` + and(conds) + `
	GROUP BY window_seconds, tenant, app, model, variant, window_start
)
GROUP BY window_seconds, tenant, app, model, variant
ORDER BY window_seconds, calls DESC, tenant, app, model, variant
LIMIT 10000`, Args: args}
}

// SignalKeyWindows runs SignalKeyWindowsStmt.
func SignalKeyWindows(ctx context.Context, conn driver.Conn, s ConsoleScope) ([]KeyWindows, error) {
	st := SignalKeyWindowsStmt(s)
	rows, err := conn.Query(ctx, st.SQL, st.Args...)
	if err != nil {
		return nil, fmt.Errorf("cannot read keys and window sizes from llm_signals: %w", err)
	}
	defer rows.Close()
	var out []KeyWindows
	for rows.Next() {
		var k KeyWindows
		if err := rows.Scan(&k.Seconds, &k.Tenant, &k.App, &k.Model, &k.Variant, &k.Windows, &k.Calls); err != nil {
			return nil, fmt.Errorf("cannot read keys and window sizes from llm_signals: %w", err)
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// OverviewPoint is one app and model's calls in one time bucket.
type OverviewPoint struct {
	App, Model    string
	Bucket        time.Time
	Calls, Errors uint64
	P50, P90, P99 float64
	TTFTP50       *float64 // nil when no call streamed
	Tokens        int64
	CostUSD       float64
}

// OverviewCallsStmt reads the Overview's charts from the calls: per app,
// model and bucket of step seconds, the calls, errors, latency quantiles,
// median time to first token, tokens and cost (WITH TOTALS: the same over
// the whole selection). llm_events is sorted by event id, which is time
// ordered (UUIDv7) within an app, so the PREWHERE on ts reads the other
// columns of the range's granules only. Quantiles are t-digests (within
// about 1%; the exact reservoir costs half again as much over a day). Replayed copies count until
// ClickHouse merges them (FINAL would read every event id).
func OverviewCallsStmt(s ConsoleScope, environment string, step uint32) ConsoleStmt {
	conds, args := s.where("ts")
	if environment != "" {
		conds = append(conds, "environment = ?")
		args = append(args, environment)
	}
	args = append([]any{step, step}, args...)
	return ConsoleStmt{Name: "overview_calls", SQL: `SELECT app, model, toDateTime(intDiv(toUInt32(ts), ?) * ?) AS bucket, count() AS calls, toUInt64(sum(is_error)) AS errors,
	arrayMap(x -> toFloat64(x), quantilesTDigest(0.5, 0.9, 0.99)(duration_ms)) AS latency,
	toFloat64(quantileTDigest(0.5)(ttft_ms)) AS ttft, sum(total_tokens) AS tokens, sum(cost_usd) AS cost
FROM llm_events
PREWHERE ` + and(conds) + `
GROUP BY app, model, bucket WITH TOTALS
ORDER BY app, model, bucket
LIMIT 20000`, Args: args}
}

// OverviewCalls runs OverviewCallsStmt and returns the points and the
// totals.
func OverviewCalls(ctx context.Context, conn driver.Conn, s ConsoleScope, environment string, step uint32) ([]OverviewPoint, OverviewPoint, error) {
	st := OverviewCallsStmt(s, environment, step)
	var total OverviewPoint
	rows, err := conn.Query(ctx, st.SQL, st.Args...)
	if err != nil {
		return nil, total, fmt.Errorf("cannot read the overview from llm_events: %w", err)
	}
	defer rows.Close()
	scan := func(p *OverviewPoint, f func(dest ...any) error) error {
		var q []float64
		if err := f(&p.App, &p.Model, &p.Bucket, &p.Calls, &p.Errors, &q, &p.TTFTP50, &p.Tokens, &p.CostUSD); err != nil {
			return fmt.Errorf("cannot read the overview from llm_events: %w", err)
		}
		if len(q) == 3 {
			p.P50, p.P90, p.P99 = q[0], q[1], q[2]
		}
		p.Bucket = p.Bucket.UTC()
		return nil
	}
	var out []OverviewPoint
	for rows.Next() {
		var p OverviewPoint
		if err := scan(&p, rows.Scan); err != nil {
			return nil, total, err
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, total, fmt.Errorf("cannot read the overview from llm_events: %w", err)
	}
	if len(out) > 0 {
		if err := scan(&total, rows.Totals); err != nil {
			return nil, total, err
		}
	}
	return out, total, nil
}

// ConsoleView selects the rows of one Console view of a key's signals.
type ConsoleView string

// The views, each a fixed condition on signal, metric and group.
const (
	ViewRates     ConsoleView = "rates"
	ViewQuantiles ConsoleView = "quantiles"
	ViewDrift     ConsoleView = "drift"
	ViewBias      ConsoleView = "bias"
	// ViewBiasSummary is the bias view's one row per attribute and
	// outcome (the finding), for finding the windows worth showing.
	ViewBiasSummary ConsoleView = "bias_summary"
	ViewAB          ConsoleView = "ab"
)

var viewConds = map[ConsoleView]string{
	ViewRates:       `signal IN ('toxicity', 'hallucination', 'refusal', 'pii', 'prompt_injection', 'error') AND metric = 'rate' AND grp = ''`,
	ViewQuantiles:   `signal IN ('latency_ms', 'ttft_ms', 'total_tokens', 'cost_usd') AND metric IN ('p50', 'p90', 'p99', 'mean') AND grp = ''`,
	ViewDrift:       `metric = 'drift' AND grp = ''`,
	ViewBias:        `metric IN ('bias_rate', 'bias_rate_diff', 'bias_di_ratio', 'bias')`,
	ViewBiasSummary: `metric = 'bias'`,
	ViewAB:          `metric IN ('ab_diff', 'ab_welch', 'ab_msprt', 'ab_mannwhitney')`,
}

// KeySignal is one llm_signals row of a key (deduplicated).
type KeySignal struct {
	Variant     string
	WindowStart time.Time
	Signal      string
	Metric      string
	Group       string
	Value       float64
	N           uint64
	Lo, Hi      *float64
	PValue      *float64
	Threshold   *float64
	Decision    bool
	Baseline    string
	Details     string
}

// KeySignalsStmt reads one view of one key's windows of the given size
// in [From, To), oldest first, every version (newest first among equals:
// KeySignals keeps it). The key prefix selects a few granules; FINAL would
// cost several times the read. For the A/B view the key's variant is not a
// condition: its rows carry the treatment variant, compared with the
// control, for every treatment of (tenant, app, model). At, when not zero,
// restricts the rows to the window starting then.
func KeySignalsStmt(s ConsoleScope, seconds uint32, view ConsoleView, at time.Time, limit int) ConsoleStmt {
	cond, ok := viewConds[view]
	if !ok {
		cond = "0" // unknown views read nothing; the Console never builds one
	}
	conds := []string{"tenant = ?", "app = ?", "model = ?"}
	args := []any{s.Tenant, s.App, s.Model}
	name := "key_signals_" + string(view)
	if view != ViewAB {
		conds = append(conds, "variant = ?")
		args = append(args, s.Variant)
	}
	conds = append(conds, "window_seconds = ?", "window_start >= toDateTime(?)", "window_start < toDateTime(?)")
	args = append(args, seconds, s.From.Unix(), s.To.Unix())
	if !at.IsZero() {
		conds = append(conds, "window_start = toDateTime(?)")
		args = append(args, at.Unix())
	}
	args = append(args, limit)
	return ConsoleStmt{Name: name, SQL: `SELECT variant, window_start, signal, metric, grp, value, n, lo, hi, p_value, threshold, decision, baseline, details,
	computed_at
FROM llm_signals
WHERE ` + and(conds) + ` AND ` + cond + `
ORDER BY window_start, variant, signal, metric, grp, computed_at DESC
LIMIT ?`, Args: args}
}

// KeySignals runs KeySignalsStmt.
func KeySignals(ctx context.Context, conn driver.Conn, s ConsoleScope, seconds uint32, view ConsoleView, at time.Time, limit int) ([]KeySignal, error) {
	st := KeySignalsStmt(s, seconds, view, at, limit)
	rows, err := conn.Query(ctx, st.SQL, st.Args...)
	if err != nil {
		return nil, fmt.Errorf("cannot read llm_signals: %w", err)
	}
	defer rows.Close()
	var out []KeySignal
	for rows.Next() {
		var k KeySignal
		var d uint8
		var at time.Time
		if err := rows.Scan(&k.Variant, &k.WindowStart, &k.Signal, &k.Metric, &k.Group, &k.Value, &k.N, &k.Lo, &k.Hi, &k.PValue,
			&k.Threshold, &d, &k.Baseline, &k.Details, &at); err != nil {
			return nil, fmt.Errorf("cannot read llm_signals: %w", err)
		}
		k.WindowStart, k.Decision = k.WindowStart.UTC(), d == 1
		if n := len(out); n > 0 {
			p := out[n-1]
			if p.WindowStart.Equal(k.WindowStart) && p.Variant == k.Variant && p.Signal == k.Signal && p.Metric == k.Metric && p.Group == k.Group {
				continue // an older version of a corrected window
			}
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// FlaggedSignal is a decision row that flagged (drift, bias, A/B).
type FlaggedSignal struct {
	Tenant, App, Model, Variant string
	WindowStart                 time.Time
	WindowSeconds               uint32
	Signal, Metric, Group       string
	Value                       float64
	N                           uint64
}

// FlaggedSignalsStmt lists the newest decision rows (drift per feature,
// bias per attribute, the default A/B test) that flagged. PREWHERE reads
// the decision column alone first: flags are rare, so the other columns
// are read for a few granules. A window corrected since it flagged keeps
// its old row here until ClickHouse merges the versions (the signals
// pages, which read per key, show the corrected one).
func FlaggedSignalsStmt(s ConsoleScope, limit int) ConsoleStmt {
	conds, args := s.where("window_start")
	args = append(args, limit)
	return ConsoleStmt{Name: "flagged_signals", SQL: `SELECT tenant, app, model, variant, window_start, window_seconds, signal, metric, grp, value, n
FROM llm_signals
PREWHERE decision = 1
WHERE metric IN ('drift', 'bias', 'ab_msprt') AND ` + and(conds) + `
ORDER BY window_start DESC, tenant, app, model, variant, window_seconds, signal, metric, grp
LIMIT ?`, Args: args}
}

// FlaggedSignals runs FlaggedSignalsStmt.
func FlaggedSignals(ctx context.Context, conn driver.Conn, s ConsoleScope, limit int) ([]FlaggedSignal, error) {
	st := FlaggedSignalsStmt(s, limit)
	rows, err := conn.Query(ctx, st.SQL, st.Args...)
	if err != nil {
		return nil, fmt.Errorf("cannot read flagged signals from llm_signals: %w", err)
	}
	defer rows.Close()
	var out []FlaggedSignal
	for rows.Next() {
		var f FlaggedSignal
		if err := rows.Scan(&f.Tenant, &f.App, &f.Model, &f.Variant, &f.WindowStart, &f.WindowSeconds, &f.Signal, &f.Metric, &f.Group,
			&f.Value, &f.N); err != nil {
			return nil, fmt.Errorf("cannot read flagged signals from llm_signals: %w", err)
		}
		f.WindowStart = f.WindowStart.UTC()
		if n := len(out); n > 0 && out[n-1].sameAs(f) {
			continue // two versions that both flagged
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

func (f FlaggedSignal) sameAs(o FlaggedSignal) bool {
	return f.Tenant == o.Tenant && f.App == o.App && f.Model == o.Model && f.Variant == o.Variant && f.WindowStart.Equal(o.WindowStart) &&
		f.WindowSeconds == o.WindowSeconds && f.Signal == o.Signal && f.Metric == o.Metric && f.Group == o.Group
}

// AlertSeriesState is the current state of one alert series (rule, key
// and signal): its newest state row.
type AlertSeriesState struct {
	Fingerprint, AlertID, Rule, State, Severity string
	Tenant, App, Model, Variant, Group          string
	Signal, Metric                              string
	Value, Threshold                            float64
	Condition                                   string
	N                                           uint64
	WindowStart                                 time.Time
	WindowSeconds                               uint32
	StartedAt, Changed                          time.Time
	Seq                                         uint64
}

// AlertSeriesStmt reads the current state of every alert series in
// scope (all time: a series firing since last week still fires), or of
// the firing ones only.
func AlertSeriesStmt(s ConsoleScope, firingOnly bool, limit int) ConsoleStmt {
	var conds []string
	var args []any
	for _, f := range []struct{ col, v string }{{"tenant", s.Tenant}, {"app", s.App}, {"model", s.Model}, {"variant", s.Variant}} {
		if f.v != "" {
			conds = append(conds, f.col+" = ?")
			args = append(args, f.v)
		}
	}
	where := "kind IN ('state', 'renotify')"
	if len(conds) > 0 {
		where += " AND " + and(conds)
	}
	having, name := "", "alert_series"
	if firingOnly {
		having, name = "\nHAVING cur_state = 'firing'", "alert_series_firing"
	}
	args = append(args, limit)
	return ConsoleStmt{Name: name, SQL: `SELECT fingerprint, argMax(alert_id, seq) AS alert, argMax(rule, seq) AS rule_name, argMax(state, seq) AS cur_state,
	argMax(severity, seq) AS sev, argMax(tenant, seq) AS t, argMax(app, seq) AS a, argMax(model, seq) AS m, argMax(variant, seq) AS va,
	argMax(grp, seq) AS g, argMax(signal, seq) AS sg, argMax(metric, seq) AS mt, argMax(value, seq) AS v, argMax(threshold, seq) AS th,
	argMax(condition, seq) AS cond, argMax(n, seq) AS events, argMax(window_start, seq) AS ws, argMax(window_seconds, seq) AS wsecs,
	argMax(started_at, seq) AS started, max(ts) AS changed, max(seq) AS last_seq
FROM llm_alerts
WHERE ` + where + `
GROUP BY fingerprint` + having + `
ORDER BY cur_state = 'firing' DESC, cur_state = 'pending' DESC, last_seq DESC
LIMIT ?`, Args: args}
}

// AlertSeries runs AlertSeriesStmt.
func AlertSeries(ctx context.Context, conn driver.Conn, s ConsoleScope, firingOnly bool, limit int) ([]AlertSeriesState, error) {
	st := AlertSeriesStmt(s, firingOnly, limit)
	rows, err := conn.Query(ctx, st.SQL, st.Args...)
	if err != nil {
		return nil, fmt.Errorf("cannot read alert states from llm_alerts: %w", err)
	}
	defer rows.Close()
	var out []AlertSeriesState
	for rows.Next() {
		var a AlertSeriesState
		if err := rows.Scan(&a.Fingerprint, &a.AlertID, &a.Rule, &a.State, &a.Severity, &a.Tenant, &a.App, &a.Model, &a.Variant, &a.Group,
			&a.Signal, &a.Metric, &a.Value, &a.Threshold, &a.Condition, &a.N, &a.WindowStart, &a.WindowSeconds, &a.StartedAt,
			&a.Changed, &a.Seq); err != nil {
			return nil, fmt.Errorf("cannot read alert states from llm_alerts: %w", err)
		}
		a.WindowStart, a.StartedAt, a.Changed = a.WindowStart.UTC(), a.StartedAt.UTC(), a.Changed.UTC()
		out = append(out, a)
	}
	return out, rows.Err()
}

// AlertEvent is one row of llm_alerts: a state change or an action
// attempt.
type AlertEvent struct {
	TS                                 time.Time
	Seq                                uint64
	AlertID, Rule, Kind, State         string
	Severity                           string
	Tenant, App, Model, Variant, Group string
	Signal, Metric                     string
	Value, Threshold                   float64
	N                                  uint64
	WindowStart                        time.Time
	WindowSeconds                      uint32
	Action, ActionType                 string
	Attempt                            uint32
	Outcome                            string
	StatusCode                         int32
	Error                              string
	DurationMS                         float64
}

// AlertEventsStmt reads the newest state changes (actions false) or
// action attempts (actions true) in scope, newest first; before, when not
// zero, continues a listing below that seq (keyset).
func AlertEventsStmt(s ConsoleScope, actions bool, rule string, before uint64, limit int) ConsoleStmt {
	conds, args := s.where("ts")
	name := "alert_events_states"
	kind := "kind IN ('state', 'renotify')"
	if actions {
		name, kind = "alert_events_actions", "kind = 'action'"
	}
	conds = append([]string{kind}, conds...)
	if rule != "" {
		conds = append(conds, "rule = ?")
		args = append(args, rule)
	}
	if before > 0 {
		conds = append(conds, "seq < ?")
		args = append(args, before)
	}
	args = append(args, limit)
	return ConsoleStmt{Name: name, SQL: `SELECT ts, seq, alert_id, rule, kind, state, severity, tenant, app, model, variant, grp, signal, metric,
	value, threshold, n, window_start, window_seconds, action, action_type, attempt, outcome, status_code, error, duration_ms
FROM llm_alerts
WHERE ` + and(conds) + `
ORDER BY seq DESC
LIMIT ?`, Args: args}
}

// AlertEvents runs AlertEventsStmt.
func AlertEvents(ctx context.Context, conn driver.Conn, s ConsoleScope, actions bool, rule string, before uint64, limit int) ([]AlertEvent, error) {
	st := AlertEventsStmt(s, actions, rule, before, limit)
	rows, err := conn.Query(ctx, st.SQL, st.Args...)
	if err != nil {
		return nil, fmt.Errorf("cannot read llm_alerts: %w", err)
	}
	defer rows.Close()
	var out []AlertEvent
	for rows.Next() {
		var a AlertEvent
		if err := rows.Scan(&a.TS, &a.Seq, &a.AlertID, &a.Rule, &a.Kind, &a.State, &a.Severity, &a.Tenant, &a.App, &a.Model, &a.Variant,
			&a.Group, &a.Signal, &a.Metric, &a.Value, &a.Threshold, &a.N, &a.WindowStart, &a.WindowSeconds, &a.Action, &a.ActionType,
			&a.Attempt, &a.Outcome, &a.StatusCode, &a.Error, &a.DurationMS); err != nil {
			return nil, fmt.Errorf("cannot read llm_alerts: %w", err)
		}
		a.TS, a.WindowStart = a.TS.UTC(), a.WindowStart.UTC()
		out = append(out, a)
	}
	return out, rows.Err()
}

// JobAttempt is one row of llm_jobs.
type JobAttempt struct {
	TS                                    time.Time
	Seq                                   uint64
	IdempotencyKey, AlertID, Rule, Action string
	Method, URL                           string
	Tenant, App, Model, Variant, Group    string
	WindowStart                           time.Time
	WindowSeconds                         uint32
	Attempt                               uint32
	Outcome                               string
	StatusCode                            int32
	Response, Error                       string
	DurationMS                            float64
}

// JobAttemptsStmt reads job requests in scope, newest first, the
// response cut to its first 300 characters (it is shown in a table).
func JobAttemptsStmt(s ConsoleScope, before uint64, limit int) ConsoleStmt {
	conds, args := s.where("ts")
	if before > 0 {
		conds = append(conds, "seq < ?")
		args = append(args, before)
	}
	args = append(args, limit)
	return ConsoleStmt{Name: "job_attempts", SQL: `SELECT ts, seq, idempotency_key, alert_id, rule, action, method, url, tenant, app, model, variant, grp,
	window_start, window_seconds, attempt, outcome, status_code, substring(response, 1, 300), error, duration_ms
FROM llm_jobs
WHERE ` + and(conds) + `
ORDER BY seq DESC
LIMIT ?`, Args: args}
}

// JobAttempts runs JobAttemptsStmt.
func JobAttempts(ctx context.Context, conn driver.Conn, s ConsoleScope, before uint64, limit int) ([]JobAttempt, error) {
	st := JobAttemptsStmt(s, before, limit)
	rows, err := conn.Query(ctx, st.SQL, st.Args...)
	if err != nil {
		return nil, fmt.Errorf("cannot read llm_jobs: %w", err)
	}
	defer rows.Close()
	var out []JobAttempt
	for rows.Next() {
		var j JobAttempt
		if err := rows.Scan(&j.TS, &j.Seq, &j.IdempotencyKey, &j.AlertID, &j.Rule, &j.Action, &j.Method, &j.URL, &j.Tenant, &j.App,
			&j.Model, &j.Variant, &j.Group, &j.WindowStart, &j.WindowSeconds, &j.Attempt, &j.Outcome, &j.StatusCode, &j.Response,
			&j.Error, &j.DurationMS); err != nil {
			return nil, fmt.Errorf("cannot read llm_jobs: %w", err)
		}
		j.TS, j.WindowStart = j.TS.UTC(), j.WindowStart.UTC()
		out = append(out, j)
	}
	return out, rows.Err()
}

// EvalRun is one row of llm_eval_runs: a re-evaluation job's scope,
// counts, the judge's rates and the detectors' agreement with it.
type EvalRun struct {
	JobID, AlertID                                               string
	Tenant, App, Model, Variant                                  string
	From, To                                                     time.Time
	JudgeModel                                                   string
	StartedAt, FinishedAt                                        time.Time
	Events, Skipped, Judged, Invalid, Failed, Verdicts           uint64
	ToxicRate, HallucinationRate, BiasRate                       *float64
	ToxicityPrecision, ToxicityRecall, ToxicityF1                *float64
	HallucinationPrecision, HallucinationRecall, HallucinationF1 *float64
}

// EvalRunsStmt reads the re-evaluation runs started in scope, newest
// first.
func EvalRunsStmt(s ConsoleScope, limit int) ConsoleStmt {
	conds, args := s.where("started_at")
	args = append(args, limit)
	return ConsoleStmt{Name: "eval_runs", SQL: `SELECT job_id, alert_id, tenant, app, model, variant, from_ts, to_ts, judge_model, started_at, finished_at,
	events, skipped, judged, invalid, failed, verdicts, toxic_rate, hallucination_rate, bias_rate,
	toxicity_precision, toxicity_recall, toxicity_f1, hallucination_precision, hallucination_recall, hallucination_f1
FROM llm_eval_runs FINAL
WHERE ` + and(conds) + `
ORDER BY started_at DESC, job_id
LIMIT ?`, Args: args}
}

// EvalRuns runs EvalRunsStmt.
func EvalRuns(ctx context.Context, conn driver.Conn, s ConsoleScope, limit int) ([]EvalRun, error) {
	st := EvalRunsStmt(s, limit)
	rows, err := conn.Query(ctx, st.SQL, st.Args...)
	if err != nil {
		return nil, fmt.Errorf("cannot read llm_eval_runs: %w", err)
	}
	defer rows.Close()
	var out []EvalRun
	for rows.Next() {
		var r EvalRun
		if err := rows.Scan(&r.JobID, &r.AlertID, &r.Tenant, &r.App, &r.Model, &r.Variant, &r.From, &r.To, &r.JudgeModel, &r.StartedAt,
			&r.FinishedAt, &r.Events, &r.Skipped, &r.Judged, &r.Invalid, &r.Failed, &r.Verdicts, &r.ToxicRate, &r.HallucinationRate,
			&r.BiasRate, &r.ToxicityPrecision, &r.ToxicityRecall, &r.ToxicityF1, &r.HallucinationPrecision, &r.HallucinationRecall,
			&r.HallucinationF1); err != nil {
			return nil, fmt.Errorf("cannot read llm_eval_runs: %w", err)
		}
		r.From, r.To, r.StartedAt, r.FinishedAt = r.From.UTC(), r.To.UTC(), r.StartedAt.UTC(), r.FinishedAt.UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}

// LiveStampStmt reads what changes when new calls, windows, alert rows,
// job requests or evaluation runs arrive: one cheap statement that the
// Console runs at most once per refresh interval for all open pages. With
// a tenant (a read key's), only that tenant's rows count: another
// tenant's traffic must not show through the stamp.
func LiveStampStmt(tenant string) ConsoleStmt {
	if tenant == "" {
		return ConsoleStmt{Name: "live_stamp", SQL: `SELECT
	(SELECT count() FROM llm_events) AS calls,
	(SELECT toUInt32(max(computed_at)) FROM llm_signals) AS signals,
	(SELECT max(seq) FROM llm_alerts) AS alerts,
	(SELECT count() FROM llm_jobs) AS jobs,
	(SELECT count() FROM llm_eval_runs) AS runs`}
	}
	return ConsoleStmt{Name: "live_stamp_tenant", SQL: `SELECT
	(SELECT count() FROM llm_events WHERE tenant = ?) AS calls,
	(SELECT toUInt32(max(computed_at)) FROM llm_signals WHERE tenant = ?) AS signals,
	(SELECT max(seq) FROM llm_alerts WHERE tenant = ?) AS alerts,
	(SELECT count() FROM llm_jobs WHERE tenant = ?) AS jobs,
	(SELECT count() FROM llm_eval_runs WHERE tenant = ?) AS runs`, Args: []any{tenant, tenant, tenant, tenant, tenant}}
}

// LiveStamp runs LiveStampStmt and returns its values as one string.
func LiveStamp(ctx context.Context, conn driver.Conn, tenant string) (string, error) {
	st := LiveStampStmt(tenant)
	var calls, alerts, jobs, runs uint64
	var signals uint32
	if err := conn.QueryRow(ctx, st.SQL, st.Args...).Scan(&calls, &signals, &alerts, &jobs, &runs); err != nil {
		return "", fmt.Errorf("cannot read the live stamp: %w", err)
	}
	return fmt.Sprintf("%d.%d.%d.%d.%d", calls, signals, alerts, jobs, runs), nil
}

// AlertThreshold is a rule's threshold on one signal of a key, as the
// alert engine recorded it (Condition is e.g. "> 0.15", or "drifted").
type AlertThreshold struct {
	Rule, Signal, Metric, Condition string
	Threshold                       float64
	WindowSeconds                   uint32
}

// AlertThresholdsStmt reads the thresholds alert rules applied to a key:
// what a Console that was not given the config file draws on its charts.
func AlertThresholdsStmt(tenant, app, model, variant string) ConsoleStmt {
	return ConsoleStmt{Name: "alert_thresholds", SQL: `SELECT rule, signal, metric, argMax(condition, seq) AS cond, argMax(threshold, seq) AS th,
	argMax(window_seconds, seq) AS secs
FROM llm_alerts
WHERE tenant = ? AND app = ? AND model = ? AND variant = ? AND kind = 'state'
GROUP BY rule, signal, metric
ORDER BY rule, signal, metric
LIMIT 50`, Args: []any{tenant, app, model, variant}}
}

// AlertThresholds runs AlertThresholdsStmt.
func AlertThresholds(ctx context.Context, conn driver.Conn, tenant, app, model, variant string) ([]AlertThreshold, error) {
	st := AlertThresholdsStmt(tenant, app, model, variant)
	rows, err := conn.Query(ctx, st.SQL, st.Args...)
	if err != nil {
		return nil, fmt.Errorf("cannot read alert thresholds from llm_alerts: %w", err)
	}
	defer rows.Close()
	var out []AlertThreshold
	for rows.Next() {
		var a AlertThreshold
		if err := rows.Scan(&a.Rule, &a.Signal, &a.Metric, &a.Condition, &a.Threshold, &a.WindowSeconds); err != nil {
			return nil, fmt.Errorf("cannot read alert thresholds from llm_alerts: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}
