package reeval

import (
	"context"
	"math"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sightline-dev/sightline/internal/redact"
	"github.com/sightline-dev/sightline/processors/stats"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

// The job's storage; the SQL is in sinks/clickhouse.

// ErrNoAlerts says llm_alerts (migration 0004) is not there to read an
// alert's scope from.
var ErrNoAlerts = chsink.ErrNoAlerts

// ErrNoAlert says the alert id is not in llm_alerts.
var ErrNoAlert = chsink.ErrNoAlert

// alertScope reads an alert's key and the span of its windows.
func alertScope(ctx context.Context, conn driver.Conn, alertID string) (Scope, time.Time, time.Time, error) {
	s, err := chsink.AlertScope(ctx, conn, alertID)
	if err != nil {
		return Scope{}, time.Time{}, time.Time{}, err
	}
	return Scope{Tenant: s.Tenant, App: s.App, Model: s.Model, Variant: s.Variant}, s.From, s.To, nil
}

// storeScope is the events' scope: an exact scope (an alert's key)
// matches empty values as such; otherwise an empty value or "*" matches
// all.
func storeScope(s Scope, exact bool, from, to time.Time) chsink.Scope {
	return chsink.Scope{Tenant: s.Tenant, App: s.App, Model: s.Model, Variant: s.Variant, Exact: exact, From: from, To: to}
}

// event is one row of llm_events as the job needs it.
type event struct {
	ID                          string
	Tenant, App, Model, Variant string
	TS                          time.Time
	Exchange                    Exchange
	DetTox, DetHal              *float32
}

// eventPages reads the job's events in (ts, event_id) order, a page at a
// time, calling fn per page.
func eventPages(ctx context.Context, conn driver.Conn, s Scope, exact bool, from, to time.Time, page, max int, fn func([]event) error) error {
	return chsink.JudgeEventPages(ctx, conn, storeScope(s, exact, from, to), page, max, func(in []chsink.JudgeEvent) error {
		evs := make([]event, len(in))
		for i, e := range in {
			evs[i] = event{ID: e.ID, Tenant: e.Tenant, App: e.App, Model: e.Model, Variant: e.Variant, TS: e.TS,
				Exchange: Exchange{PromptRoles: e.PromptRoles, PromptContents: e.PromptContents, Completion: e.Completion,
					Context: e.Context, Reference: e.Reference},
				DetTox: e.DetTox, DetHal: e.DetHal}
		}
		return fn(evs)
	})
}

// countEvents counts the job's events.
func countEvents(ctx context.Context, conn driver.Conn, s Scope, exact bool, from, to time.Time) (uint64, error) {
	return chsink.CountEvents(ctx, conn, storeScope(s, exact, from, to))
}

// judged is the compact form of a valid verdict kept for the summary.
type judged struct {
	toxic, biased bool
	hallucinated  *bool
}

// priorVerdicts loads the job's valid verdicts from earlier runs.
func priorVerdicts(ctx context.Context, conn driver.Conn, jobID string) (map[string]judged, error) {
	prior, err := chsink.PriorVerdicts(ctx, conn, jobID)
	if err != nil {
		return nil, err
	}
	out := make(map[string]judged, len(prior))
	for id, v := range prior {
		out[id] = judged{toxic: v.Toxic, biased: v.Biased, hallucinated: v.Hallucinated}
	}
	return out, nil
}

// evalRow is one llm_evaluations row.
type evalRow struct {
	ev  *event
	res Judgement
	at  time.Time
}

const maxRaw = 4096

func insertEvaluations(ctx context.Context, conn driver.Conn, jobID, judgeModel string, rows []evalRow) error {
	out := make([]chsink.EvaluationRow, len(rows))
	for i, r := range rows {
		v := r.res.Verdict
		var halScore *float32
		if v.Hallucinated != nil {
			s := float32(*v.HallucinationScore)
			halScore = &s
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
		out[i] = chsink.EvaluationRow{JobID: jobID, EventID: r.ev.ID, Tenant: r.ev.Tenant, App: r.ev.App, Model: r.ev.Model,
			Variant: r.ev.Variant, EventTS: r.ev.TS, JudgeModel: judgeModel, Valid: v.Valid, Error: redact.String(v.Error),
			Toxic: v.Toxic, ToxicityScore: float32(v.ToxicityScore), Hallucinated: v.Hallucinated, HallucinationScore: halScore,
			UnsupportedClaims: v.UnsupportedClaims, Biased: v.Biased, BiasExplanation: v.BiasExplanation,
			DetectorToxicity: r.ev.DetTox, DetectorHallucination: r.ev.DetHal, RawResponse: raw,
			Attempts: uint16(min(r.res.Attempts, math.MaxUint16)), LatencyMS: float64(r.res.Latency.Microseconds()) / 1000, TS: r.at}
	}
	return chsink.EvaluationsTable.Insert(ctx, conn, out)
}

func agreementRow(a Agreement) chsink.AgreementRow {
	return chsink.AgreementRow{TP: uint64(a.TP), FP: uint64(a.FP), FN: uint64(a.FN), TN: uint64(a.TN),
		Precision: stats.FiniteOrNil(a.Precision), Recall: stats.FiniteOrNil(a.Recall), F1: stats.FiniteOrNil(a.F1)}
}

func insertRun(ctx context.Context, conn driver.Conn, s *Summary) error {
	return chsink.EvalRunsTable.Insert(ctx, conn, []chsink.EvalRunRow{{
		JobID: s.JobID, AlertID: s.AlertID, Tenant: s.Scope.Tenant, App: s.Scope.App, Model: s.Scope.Model, Variant: s.Scope.Variant,
		From: s.From, To: s.To, JudgeModel: s.JudgeModel, Started: s.Started, Finished: s.Finished,
		Events: uint64(s.Events), Skipped: uint64(s.Skipped), Judged: uint64(s.Judged), Invalid: uint64(s.Invalid),
		Failed: uint64(s.Failed), Verdicts: uint64(s.Verdicts),
		ToxicRate: stats.FiniteOrNil(s.ToxicRate), HallucinationRate: stats.FiniteOrNil(s.HallucinationRate), BiasRate: stats.FiniteOrNil(s.BiasRate),
		Toxicity: agreementRow(s.Toxicity), Hallucination: agreementRow(s.Hallucination),
	}})
}
