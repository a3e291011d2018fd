package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// The re-evaluation job's queries: the scope of an alert, the events it
// judges (keyset pages), its earlier verdicts, and llm_evaluations /
// llm_eval_runs rows.

// ErrNoAlerts says llm_alerts (migration 0004) is not there to read an
// alert's scope from.
var ErrNoAlerts = errors.New("llm_alerts does not exist or lacks the columns alert_id, tenant, app, model, variant, window_start, window_seconds (apply the alert engine's migration with `sightline migrate`)")

// ErrNoAlert says the alert id is not in llm_alerts.
var ErrNoAlert = errors.New("alert not found in llm_alerts")

var alertScopeColumns = []string{"alert_id", "tenant", "app", "model", "variant", "window_start", "window_seconds"}

const (
	alertScopeColumnsQuery = "SELECT countIf(name IN ('alert_id','tenant','app','model','variant','window_start','window_seconds')), " +
		"countIf(name = 'state'), countIf(name = 'incident_id') " +
		"FROM system.columns WHERE database = currentDatabase() AND table = 'llm_alerts'"
	alertScopeQuery = `SELECT count(), any(tenant), any(app), any(model), any(variant),
	min(window_start), max(toDateTime(toUInt32(window_start) + window_seconds))
FROM llm_alerts WHERE alert_id = ?`
	alertScopeFiringQuery = alertScopeQuery + " AND state IN ('pending', 'firing')"
	// An id may also name an incident (migration 0008): its series may
	// differ in a key column, which then matches every value ('*').
	incidentScopeQuery = `SELECT count(), if(uniqExact(tenant) = 1, any(tenant), '*'), if(uniqExact(app) = 1, any(app), '*'),
	if(uniqExact(model) = 1, any(model), '*'), if(uniqExact(variant) = 1, any(variant), '*'),
	min(window_start), max(toDateTime(toUInt32(window_start) + window_seconds))
FROM llm_alerts WHERE (alert_id = ? OR incident_id = ?)`
	incidentScopeFiringQuery = incidentScopeQuery + " AND state IN ('pending', 'firing')"
)

// Scope is a key of the events a job reads; empty values match anything
// unless Exact (an alert's key, whose empty values are values); "*"
// always matches anything (an incident's series differing in a column).
type Scope struct {
	Tenant, App, Model, Variant string
	Exact                       bool
	From, To                    time.Time
}

// AlertScope reads an alert's key and the span of its windows: from the
// earliest window_start recorded for it to the end of its latest window,
// counting only the rows in state pending or firing (the window that
// resolved it is not part of the incident) when there are any. The id
// may be an incident's (the one a grouped notification and its job
// request carry): the scope then spans its series.
func AlertScope(ctx context.Context, conn driver.Conn, alertID string) (Scope, error) {
	var n, hasState, hasIncident uint64
	if err := conn.QueryRow(ctx, alertScopeColumnsQuery).Scan(&n, &hasState, &hasIncident); err != nil {
		return Scope{}, fmt.Errorf("cannot read system.columns: %w", err)
	}
	if n != uint64(len(alertScopeColumns)) {
		return Scope{}, fmt.Errorf("cannot read alert %q: %w", alertID, ErrNoAlerts)
	}
	all, firing, args := alertScopeQuery, alertScopeFiringQuery, []any{alertID}
	if hasIncident > 0 {
		all, firing, args = incidentScopeQuery, incidentScopeFiringQuery, []any{alertID, alertID}
	}
	read := func(q string) (rows uint64, s Scope, err error) {
		err = conn.QueryRow(ctx, q, args...).Scan(&rows, &s.Tenant, &s.App, &s.Model, &s.Variant, &s.From, &s.To)
		return
	}
	var (
		rows uint64
		s    Scope
		err  error
	)
	if hasState > 0 {
		rows, s, err = read(firing)
	}
	if err == nil && rows == 0 {
		rows, s, err = read(all)
	}
	if err != nil {
		return Scope{}, fmt.Errorf("cannot read alert %q from llm_alerts: %w", alertID, err)
	}
	if rows == 0 {
		return Scope{}, fmt.Errorf("cannot read alert %q: %w", alertID, ErrNoAlert)
	}
	if !s.To.After(s.From) {
		return Scope{}, fmt.Errorf("alert %q has an empty window in llm_alerts (window_seconds 0)", alertID)
	}
	s.Exact, s.From, s.To = true, s.From.UTC(), s.To.UTC()
	return s, nil
}

func (s Scope) where() (string, []any) {
	where := "ts >= toDateTime(?) AND ts < toDateTime(?)"
	args := []any{s.From.Unix(), s.To.Unix()}
	for _, f := range []struct{ col, val string }{{"tenant", s.Tenant}, {"app", s.App}, {"model", s.Model}, {"variant", s.Variant}} {
		if f.val == "*" || (!s.Exact && f.val == "") {
			continue
		}
		where += " AND " + f.col + " = ?"
		args = append(args, f.val)
	}
	return where, args
}

// JudgeEvent is one llm_events row as a re-evaluation needs it.
type JudgeEvent struct {
	ID                          string
	Tenant, App, Model, Variant string
	TS                          time.Time
	PromptRoles, PromptContents []string
	Completion, Context         []string
	Reference                   string
	// The online detectors' scores, compared with the judge's verdicts.
	DetTox, DetHal *float32
}

const judgeEventColumns = `event_id, tenant, app, model, variant, ts, prompt_roles, prompt_contents, completion_contents,
	context, reference, completion_toxicity, hallucination`

// judgePageSQL is one keyset page of a scope's events; after is set from
// the second page on.
func judgePageSQL(s Scope, after bool, lastTS int64, lastID string, limit int) (string, []any) {
	where, args := s.where()
	q := "SELECT " + judgeEventColumns + " FROM llm_events FINAL WHERE " + where
	if after {
		q += " AND (ts > toDateTime(?) OR (ts = toDateTime(?) AND event_id > ?))"
		args = append(args, lastTS, lastTS, lastID)
	}
	return q + fmt.Sprintf(" ORDER BY ts, event_id LIMIT %d", limit), args
}

// JudgeEventPages reads a scope's events in (ts, event_id) order, a page
// at a time (at most max in all when max > 0), calling fn per page. Keyset
// paging keeps memory at one page and no query open while fn works.
func JudgeEventPages(ctx context.Context, conn driver.Conn, s Scope, page, max int, fn func([]JudgeEvent) error) error {
	var lastTS int64
	var lastID string
	seen := 0
	for {
		limit := page
		if max > 0 && max-seen < limit {
			limit = max - seen
		}
		if limit <= 0 {
			return nil
		}
		q, args := judgePageSQL(s, seen > 0, lastTS, lastID, limit)
		rows, err := conn.Query(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("cannot read llm_events: %w", err)
		}
		var evs []JudgeEvent
		for rows.Next() {
			var e JudgeEvent
			if err := rows.Scan(&e.ID, &e.Tenant, &e.App, &e.Model, &e.Variant, &e.TS, &e.PromptRoles, &e.PromptContents,
				&e.Completion, &e.Context, &e.Reference, &e.DetTox, &e.DetHal); err != nil {
				rows.Close()
				return fmt.Errorf("cannot read llm_events: %w", err)
			}
			evs = append(evs, e)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("cannot read llm_events: %w", err)
		}
		if len(evs) == 0 {
			return nil
		}
		seen += len(evs)
		lastTS, lastID = evs[len(evs)-1].TS.Unix(), evs[len(evs)-1].ID
		if err := fn(evs); err != nil {
			return err
		}
		if len(evs) < limit {
			return nil
		}
	}
}

// CountEvents counts a scope's events (deduplicated).
func CountEvents(ctx context.Context, conn driver.Conn, s Scope) (uint64, error) {
	where, args := s.where()
	var n uint64
	if err := conn.QueryRow(ctx, countEventsSQL(where), args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("cannot count llm_events: %w", err)
	}
	return n, nil
}

func countEventsSQL(where string) string {
	return "SELECT count() FROM llm_events FINAL WHERE " + where
}

// PriorVerdict is a valid verdict stored by an earlier run of a job.
type PriorVerdict struct {
	Toxic, Biased bool
	Hallucinated  *bool
}

const priorVerdictsQuery = "SELECT event_id, toxic, hallucinated, biased FROM llm_evaluations FINAL WHERE job_id = ? AND valid = 1"

// PriorVerdicts loads a job's valid verdicts by event id.
func PriorVerdicts(ctx context.Context, conn driver.Conn, jobID string) (map[string]PriorVerdict, error) {
	rows, err := conn.Query(ctx, priorVerdictsQuery, jobID)
	if err != nil {
		return nil, fmt.Errorf("cannot read llm_evaluations: %w", err)
	}
	defer rows.Close()
	out := map[string]PriorVerdict{}
	for rows.Next() {
		var id string
		var tox, bias uint8
		var hal *uint8
		if err := rows.Scan(&id, &tox, &hal, &bias); err != nil {
			return nil, fmt.Errorf("cannot read llm_evaluations: %w", err)
		}
		j := PriorVerdict{Toxic: tox == 1, Biased: bias == 1}
		if hal != nil {
			h := *hal == 1
			j.Hallucinated = &h
		}
		out[id] = j
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot read llm_evaluations: %w", err)
	}
	return out, nil
}

// EvaluationRow is one judge verdict (llm_evaluations). Texts that come
// from outside (the error, a failed answer) must be redacted by the caller.
type EvaluationRow struct {
	JobID                       string
	EventID                     string
	Tenant, App, Model, Variant string
	EventTS                     time.Time
	JudgeModel                  string
	Valid                       bool
	Error                       string
	Toxic                       bool
	ToxicityScore               float32
	Hallucinated                *bool
	HallucinationScore          *float32
	UnsupportedClaims           []string
	Biased                      bool
	BiasExplanation             string
	DetectorToxicity            *float32
	DetectorHallucination       *float32
	RawResponse                 string
	Attempts                    uint16
	LatencyMS                   float64
	TS                          time.Time
}

// EvaluationsTable is llm_evaluations: its columns, each next to the value it
// takes (version orders a job's reruns).
var EvaluationsTable = NewTable("llm_evaluations",
	Col("job_id", func(r *EvaluationRow) any { return r.JobID }),
	Col("event_id", func(r *EvaluationRow) any { return r.EventID }),
	Col("tenant", func(r *EvaluationRow) any { return r.Tenant }),
	Col("app", func(r *EvaluationRow) any { return r.App }),
	Col("model", func(r *EvaluationRow) any { return r.Model }),
	Col("variant", func(r *EvaluationRow) any { return r.Variant }),
	Col("event_ts", func(r *EvaluationRow) any { return r.EventTS }),
	Col("judge_model", func(r *EvaluationRow) any { return r.JudgeModel }),
	Col("valid", func(r *EvaluationRow) any { return b2u(r.Valid) }),
	Col("error", func(r *EvaluationRow) any { return r.Error }),
	Col("toxic", func(r *EvaluationRow) any { return b2u(r.Toxic) }),
	Col("toxicity_score", func(r *EvaluationRow) any { return r.ToxicityScore }),
	Col("hallucinated", func(r *EvaluationRow) any { return optBool(r.Hallucinated) }),
	Col("hallucination_score", func(r *EvaluationRow) any { return r.HallucinationScore }),
	Col("unsupported_claims", func(r *EvaluationRow) any { return strs(r.UnsupportedClaims) }),
	Col("biased", func(r *EvaluationRow) any { return b2u(r.Biased) }),
	Col("bias_explanation", func(r *EvaluationRow) any { return r.BiasExplanation }),
	Col("detector_toxicity", func(r *EvaluationRow) any { return r.DetectorToxicity }),
	Col("detector_hallucination", func(r *EvaluationRow) any { return r.DetectorHallucination }),
	Col("raw_response", func(r *EvaluationRow) any { return r.RawResponse }),
	Col("attempts", func(r *EvaluationRow) any { return r.Attempts }),
	Col("latency_ms", func(r *EvaluationRow) any { return r.LatencyMS }),
	Col("ts", func(r *EvaluationRow) any { return r.TS }),
	Col("version", func(r *EvaluationRow) any { return uint64(r.TS.UnixNano()) }),
)

func optBool(b *bool) *uint8 {
	if b == nil {
		return nil
	}
	v := b2u(*b)
	return &v
}

// EvalRunRow is one re-evaluation run's summary (llm_eval_runs). Rates and
// agreement figures are nil when undefined.
type EvalRunRow struct {
	JobID, AlertID                                     string
	Tenant, App, Model, Variant                        string
	From, To                                           time.Time
	JudgeModel                                         string
	Started, Finished                                  time.Time
	Events, Skipped, Judged, Invalid, Failed, Verdicts uint64
	ToxicRate, HallucinationRate, BiasRate             *float64
	Toxicity, Hallucination                            AgreementRow
}

// AgreementRow is an online detector's agreement with the judge.
type AgreementRow struct {
	TP, FP, FN, TN        uint64
	Precision, Recall, F1 *float64
}

// EvalRunsTable is llm_eval_runs.
var EvalRunsTable = NewTable("llm_eval_runs",
	Col("job_id", func(r *EvalRunRow) any { return r.JobID }),
	Col("alert_id", func(r *EvalRunRow) any { return r.AlertID }),
	Col("tenant", func(r *EvalRunRow) any { return r.Tenant }),
	Col("app", func(r *EvalRunRow) any { return r.App }),
	Col("model", func(r *EvalRunRow) any { return r.Model }),
	Col("variant", func(r *EvalRunRow) any { return r.Variant }),
	Col("from_ts", func(r *EvalRunRow) any { return r.From }),
	Col("to_ts", func(r *EvalRunRow) any { return r.To }),
	Col("judge_model", func(r *EvalRunRow) any { return r.JudgeModel }),
	Col("started_at", func(r *EvalRunRow) any { return r.Started }),
	Col("finished_at", func(r *EvalRunRow) any { return r.Finished }),
	Col("events", func(r *EvalRunRow) any { return r.Events }),
	Col("skipped", func(r *EvalRunRow) any { return r.Skipped }),
	Col("judged", func(r *EvalRunRow) any { return r.Judged }),
	Col("invalid", func(r *EvalRunRow) any { return r.Invalid }),
	Col("failed", func(r *EvalRunRow) any { return r.Failed }),
	Col("verdicts", func(r *EvalRunRow) any { return r.Verdicts }),
	Col("toxic_rate", func(r *EvalRunRow) any { return r.ToxicRate }),
	Col("hallucination_rate", func(r *EvalRunRow) any { return r.HallucinationRate }),
	Col("bias_rate", func(r *EvalRunRow) any { return r.BiasRate }),
	Col("toxicity_tp", func(r *EvalRunRow) any { return r.Toxicity.TP }),
	Col("toxicity_fp", func(r *EvalRunRow) any { return r.Toxicity.FP }),
	Col("toxicity_fn", func(r *EvalRunRow) any { return r.Toxicity.FN }),
	Col("toxicity_tn", func(r *EvalRunRow) any { return r.Toxicity.TN }),
	Col("toxicity_precision", func(r *EvalRunRow) any { return r.Toxicity.Precision }),
	Col("toxicity_recall", func(r *EvalRunRow) any { return r.Toxicity.Recall }),
	Col("toxicity_f1", func(r *EvalRunRow) any { return r.Toxicity.F1 }),
	Col("hallucination_tp", func(r *EvalRunRow) any { return r.Hallucination.TP }),
	Col("hallucination_fp", func(r *EvalRunRow) any { return r.Hallucination.FP }),
	Col("hallucination_fn", func(r *EvalRunRow) any { return r.Hallucination.FN }),
	Col("hallucination_tn", func(r *EvalRunRow) any { return r.Hallucination.TN }),
	Col("hallucination_precision", func(r *EvalRunRow) any { return r.Hallucination.Precision }),
	Col("hallucination_recall", func(r *EvalRunRow) any { return r.Hallucination.Recall }),
	Col("hallucination_f1", func(r *EvalRunRow) any { return r.Hallucination.F1 }),
	Col("version", func(r *EvalRunRow) any { return uint64(r.Finished.UnixNano()) }),
)
