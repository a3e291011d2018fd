package reeval

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sightline-dev/sightline/internal/redact"
	"github.com/sightline-dev/sightline/processors/stats"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

// ErrNoAlerts says llm_alerts (migration 0004) is not there to read an
// alert's scope from.
var ErrNoAlerts = errors.New("llm_alerts does not exist or lacks the columns alert_id, tenant, app, model, variant, window_start, window_seconds (apply the alert engine's migration with `sightline migrate`)")

// ErrNoAlert says the alert id is not in llm_alerts.
var ErrNoAlert = errors.New("alert not found in llm_alerts")

var alertColumns = []string{"alert_id", "tenant", "app", "model", "variant", "window_start", "window_seconds"}

// alertScope reads an alert's key and the span of its windows: from the
// earliest window_start recorded for it to the end of its latest window,
// counting only the rows in state pending or firing when llm_alerts has a
// state column (the window that resolved it is not part of the incident).
func alertScope(ctx context.Context, conn driver.Conn, alertID string) (Scope, time.Time, time.Time, error) {
	fail := func(err error) (Scope, time.Time, time.Time, error) { return Scope{}, time.Time{}, time.Time{}, err }
	var n, hasState uint64
	err := conn.QueryRow(ctx, "SELECT countIf(name IN ('"+strings.Join(alertColumns, "','")+"')), countIf(name = 'state') "+
		"FROM system.columns WHERE database = currentDatabase() AND table = 'llm_alerts'").Scan(&n, &hasState)
	if err != nil {
		return fail(fmt.Errorf("cannot read system.columns: %w", err))
	}
	if n != uint64(len(alertColumns)) {
		return fail(fmt.Errorf("cannot read alert %q: %w", alertID, ErrNoAlerts))
	}
	q := `SELECT count(), any(tenant), any(app), any(model), any(variant),
		min(window_start), max(toDateTime(toUInt32(window_start) + window_seconds))
		FROM llm_alerts WHERE alert_id = ?`
	read := func(q string) (rows uint64, s Scope, from, to time.Time, err error) {
		err = conn.QueryRow(ctx, q, alertID).Scan(&rows, &s.Tenant, &s.App, &s.Model, &s.Variant, &from, &to)
		return
	}
	var rows uint64
	var s Scope
	var from, to time.Time
	if hasState > 0 {
		rows, s, from, to, err = read(q + " AND state IN ('pending', 'firing')")
	}
	if err == nil && rows == 0 {
		rows, s, from, to, err = read(q)
	}
	if err != nil {
		return fail(fmt.Errorf("cannot read alert %q from llm_alerts: %w", alertID, err))
	}
	if rows == 0 {
		return fail(fmt.Errorf("cannot read alert %q: %w", alertID, ErrNoAlert))
	}
	if !to.After(from) {
		return fail(fmt.Errorf("alert %q has an empty window in llm_alerts (window_seconds 0)", alertID))
	}
	return s, from.UTC(), to.UTC(), nil
}

// scopeWhere is the WHERE clause and arguments of the job's events. An
// exact scope (an alert's key) matches empty values as such; otherwise an
// empty value or "*" matches all.
func scopeWhere(s Scope, exact bool, from, to time.Time) (string, []any) {
	where := "ts >= toDateTime(?) AND ts < toDateTime(?)"
	args := []any{from.Unix(), to.Unix()}
	for _, f := range []struct{ col, val string }{{"tenant", s.Tenant}, {"app", s.App}, {"model", s.Model}, {"variant", s.Variant}} {
		if !exact && (f.val == "" || f.val == "*") {
			continue
		}
		where += " AND " + f.col + " = ?"
		args = append(args, f.val)
	}
	return where, args
}

// event is one row of llm_events as the job needs it.
type event struct {
	ID                          string
	Tenant, App, Model, Variant string
	TS                          time.Time
	Exchange                    Exchange
	DetTox, DetHal              *float32
}

const eventCols = `event_id, tenant, app, model, variant, ts, prompt_roles, prompt_contents, completion_contents,
	context, reference, completion_toxicity, hallucination`

// eventPages reads the job's events in (ts, event_id) order, a page at a
// time, calling fn per page. Keyset paging keeps memory at one page and no
// query open while the judge works.
func eventPages(ctx context.Context, conn driver.Conn, s Scope, exact bool, from, to time.Time, page, max int, fn func([]event) error) error {
	where, args := scopeWhere(s, exact, from, to)
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
		q := "SELECT " + eventCols + " FROM llm_events FINAL WHERE " + where
		qargs := append([]any{}, args...)
		if seen > 0 {
			q += " AND (ts > toDateTime(?) OR (ts = toDateTime(?) AND event_id > ?))"
			qargs = append(qargs, lastTS, lastTS, lastID)
		}
		q += fmt.Sprintf(" ORDER BY ts, event_id LIMIT %d", limit)
		rows, err := conn.Query(ctx, q, qargs...)
		if err != nil {
			return fmt.Errorf("cannot read llm_events: %w", err)
		}
		var evs []event
		for rows.Next() {
			var e event
			x := &e.Exchange
			if err := rows.Scan(&e.ID, &e.Tenant, &e.App, &e.Model, &e.Variant, &e.TS, &x.PromptRoles, &x.PromptContents,
				&x.Completion, &x.Context, &x.Reference, &e.DetTox, &e.DetHal); err != nil {
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

// countEvents counts the job's events.
func countEvents(ctx context.Context, conn driver.Conn, s Scope, exact bool, from, to time.Time) (uint64, error) {
	where, args := scopeWhere(s, exact, from, to)
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM llm_events FINAL WHERE "+where, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("cannot count llm_events: %w", err)
	}
	return n, nil
}

// judged is the compact form of a valid verdict kept for the summary.
type judged struct {
	toxic, biased bool
	hallucinated  *bool
}

// priorVerdicts loads the job's valid verdicts from earlier runs.
func priorVerdicts(ctx context.Context, conn driver.Conn, jobID string) (map[string]judged, error) {
	rows, err := conn.Query(ctx, "SELECT event_id, toxic, hallucinated, biased FROM llm_evaluations FINAL WHERE job_id = ? AND valid = 1", jobID)
	if err != nil {
		return nil, fmt.Errorf("cannot read llm_evaluations: %w", err)
	}
	defer rows.Close()
	out := map[string]judged{}
	for rows.Next() {
		var id string
		var tox, bias uint8
		var hal *uint8
		if err := rows.Scan(&id, &tox, &hal, &bias); err != nil {
			return nil, fmt.Errorf("cannot read llm_evaluations: %w", err)
		}
		j := judged{toxic: tox == 1, biased: bias == 1}
		if hal != nil {
			h := *hal == 1
			j.hallucinated = &h
		}
		out[id] = j
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot read llm_evaluations: %w", err)
	}
	return out, nil
}

// evalRow is one llm_evaluations row.
type evalRow struct {
	ev  *event
	res Judgement
	at  time.Time
}

// EvaluationColumns is the explicit column list of llm_evaluations inserts.
var EvaluationColumns = []string{"job_id", "event_id", "tenant", "app", "model", "variant", "event_ts", "judge_model",
	"valid", "error", "toxic", "toxicity_score", "hallucinated", "hallucination_score", "unsupported_claims",
	"biased", "bias_explanation", "detector_toxicity", "detector_hallucination", "raw_response", "attempts",
	"latency_ms", "ts", "version"}

const maxRaw = 4096

func insertEvaluations(ctx context.Context, conn driver.Conn, jobID, judgeModel string, rows []evalRow) error {
	if len(rows) == 0 {
		return nil
	}
	b, err := conn.PrepareBatch(ctx, chsink.InsertStmt("llm_evaluations", EvaluationColumns))
	if err != nil {
		return fmt.Errorf("cannot prepare llm_evaluations insert: %w", err)
	}
	for _, r := range rows {
		v := r.res.Verdict
		var hal *uint8
		var halScore *float32
		if v.Hallucinated != nil {
			h := b2u(*v.Hallucinated)
			hal = &h
			s := float32(*v.HallucinationScore)
			halScore = &s
		}
		claims := v.UnsupportedClaims
		if claims == nil {
			claims = []string{}
		}
		raw := r.res.Raw
		if !v.Valid {
			// A failed or unusable answer may be an error page echoing the
			// request (the judge saw no secret in a valid one's content).
			raw = redact.String(raw)
		}
		if len(raw) > maxRaw {
			raw = strings.ToValidUTF8(raw[:maxRaw], "")
		}
		attempts := uint16(min(r.res.Attempts, math.MaxUint16))
		if err := b.Append(jobID, r.ev.ID, r.ev.Tenant, r.ev.App, r.ev.Model, r.ev.Variant, r.ev.TS, judgeModel,
			b2u(v.Valid), redact.String(v.Error), b2u(v.Toxic), float32(v.ToxicityScore), hal, halScore, claims,
			b2u(v.Biased), v.BiasExplanation, r.ev.DetTox, r.ev.DetHal, raw, attempts,
			float64(r.res.Latency.Microseconds())/1000, r.at, uint64(r.at.UnixNano())); err != nil {
			_ = b.Abort()
			return fmt.Errorf("cannot append to llm_evaluations batch: %w", err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("cannot insert %d rows into llm_evaluations: %w", len(rows), err)
	}
	return nil
}

// RunColumns is the explicit column list of llm_eval_runs inserts.
var RunColumns = []string{"job_id", "alert_id", "tenant", "app", "model", "variant", "from_ts", "to_ts", "judge_model",
	"started_at", "finished_at", "events", "skipped", "judged", "invalid", "failed", "verdicts",
	"toxic_rate", "hallucination_rate", "bias_rate",
	"toxicity_tp", "toxicity_fp", "toxicity_fn", "toxicity_tn", "toxicity_precision", "toxicity_recall", "toxicity_f1",
	"hallucination_tp", "hallucination_fp", "hallucination_fn", "hallucination_tn", "hallucination_precision", "hallucination_recall", "hallucination_f1",
	"version"}

func insertRun(ctx context.Context, conn driver.Conn, s *Summary) error {
	b, err := conn.PrepareBatch(ctx, chsink.InsertStmt("llm_eval_runs", RunColumns))
	if err != nil {
		return fmt.Errorf("cannot prepare llm_eval_runs insert: %w", err)
	}
	t, h := s.Toxicity, s.Hallucination
	if err := b.Append(s.JobID, s.AlertID, s.Scope.Tenant, s.Scope.App, s.Scope.Model, s.Scope.Variant, s.From, s.To, s.JudgeModel,
		s.Started, s.Finished, uint64(s.Events), uint64(s.Skipped), uint64(s.Judged), uint64(s.Invalid), uint64(s.Failed), uint64(s.Verdicts),
		stats.FiniteOrNil(s.ToxicRate), stats.FiniteOrNil(s.HallucinationRate), stats.FiniteOrNil(s.BiasRate),
		uint64(t.TP), uint64(t.FP), uint64(t.FN), uint64(t.TN), stats.FiniteOrNil(t.Precision), stats.FiniteOrNil(t.Recall), stats.FiniteOrNil(t.F1),
		uint64(h.TP), uint64(h.FP), uint64(h.FN), uint64(h.TN), stats.FiniteOrNil(h.Precision), stats.FiniteOrNil(h.Recall), stats.FiniteOrNil(h.F1),
		uint64(s.Finished.UnixNano())); err != nil {
		_ = b.Abort()
		return fmt.Errorf("cannot append to llm_eval_runs batch: %w", err)
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("cannot insert into llm_eval_runs: %w", err)
	}
	return nil
}

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}
