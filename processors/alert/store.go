package alert

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sightline-dev/sightline/internal/redact"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

// Row kinds of llm_alerts.
const (
	kindState    = "state"
	kindRenotify = "renotify"
	kindAction   = "action"
)

// stateInactive is a series that is neither pending nor firing (stored
// when a pending series clears before firing).
const (
	statePending  = "pending"
	stateFiring   = "firing"
	stateResolved = "resolved"
	stateInactive = "inactive"
)

// alertRow is one row of llm_alerts.
type alertRow struct {
	AlertID, Rule, Fingerprint, Kind, State, Severity string
	Tenant, App, Model, Variant, Group                string
	Signal, Metric                                    string
	Value, Threshold                                  float64
	Condition                                         string
	N                                                 uint64
	Consecutive                                       uint32
	WindowStart                                       time.Time
	WindowSeconds                                     uint32
	StartedAt, NotifiedAt                             time.Time
	Action, ActionType                                string
	Attempt                                           uint32
	Outcome                                           string
	StatusCode                                        int32
	Error                                             string
	DurationMS                                        float64
	Labels                                            string
	TS                                                time.Time
	Seq                                               uint64
}

var alertColumns = []string{"alert_id", "rule", "fingerprint", "kind", "state", "severity", "tenant", "app", "model", "variant", "grp",
	"signal", "metric", "value", "threshold", "condition", "n", "consecutive", "window_start", "window_seconds", "started_at", "notified_at",
	"action", "action_type", "attempt", "outcome", "status_code", "error", "duration_ms", "labels", "ts", "seq"}

// jobRow is one row of llm_jobs.
type jobRow struct {
	IdempotencyKey, AlertID, Rule, Fingerprint, Action, Method, URL string
	Tenant, App, Model, Variant, Group                              string
	WindowStart                                                     time.Time
	WindowSeconds                                                   uint32
	Attempt                                                         uint32
	Outcome                                                         string
	StatusCode                                                      int32
	Response, Error                                                 string
	DurationMS                                                      float64
	TS                                                              time.Time
	Seq                                                             uint64
}

var jobColumns = []string{"idempotency_key", "alert_id", "rule", "fingerprint", "action", "method", "url", "tenant", "app", "model",
	"variant", "grp", "window_start", "window_seconds", "attempt", "outcome", "status_code", "response", "error", "duration_ms", "ts", "seq"}

var (
	insertAlerts = chsink.InsertStmt("llm_alerts", alertColumns)
	insertJobs   = chsink.InsertStmt("llm_jobs", jobColumns)
)

// seqClock orders rows written by this process (ts has second
// resolution): nanoseconds since the epoch, strictly increasing.
var seqClock atomic.Uint64

func nextSeq() uint64 {
	now := uint64(time.Now().UnixNano())
	for {
		last := seqClock.Load()
		next := max(now, last+1)
		if seqClock.CompareAndSwap(last, next) {
			return next
		}
	}
}

func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Unix(0, 0).UTC()
	}
	return t.UTC()
}

// writeAlerts and writeJobs redact the texts that come from outside (errors,
// answers, URLs) once more as they are written: the actions redact at the
// source, and this is the last point before the table and the read API
// (redaction is idempotent, so the second pass changes nothing it should
// not).
func writeAlerts(ctx context.Context, conn driver.Conn, rows []alertRow) error {
	if len(rows) == 0 {
		return nil
	}
	b, err := conn.PrepareBatch(ctx, insertAlerts)
	if err != nil {
		return fmt.Errorf("cannot prepare llm_alerts insert: %w", err)
	}
	for _, r := range rows {
		if err := b.Append(r.AlertID, r.Rule, r.Fingerprint, r.Kind, r.State, r.Severity, r.Tenant, r.App, r.Model, r.Variant, r.Group,
			r.Signal, r.Metric, r.Value, r.Threshold, r.Condition, r.N, r.Consecutive, utc(r.WindowStart), r.WindowSeconds,
			utc(r.StartedAt), utc(r.NotifiedAt), r.Action, r.ActionType, r.Attempt, r.Outcome, r.StatusCode, redact.String(r.Error), r.DurationMS,
			r.Labels, utc(r.TS), r.Seq); err != nil {
			_ = b.Abort()
			return fmt.Errorf("cannot append to llm_alerts batch: %w", err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("cannot insert %d rows into llm_alerts: %w", len(rows), err)
	}
	return nil
}

func writeJobs(ctx context.Context, conn driver.Conn, rows []jobRow) error {
	if len(rows) == 0 {
		return nil
	}
	b, err := conn.PrepareBatch(ctx, insertJobs)
	if err != nil {
		return fmt.Errorf("cannot prepare llm_jobs insert: %w", err)
	}
	for _, r := range rows {
		if err := b.Append(r.IdempotencyKey, r.AlertID, r.Rule, r.Fingerprint, r.Action, r.Method, redact.URL(r.URL), r.Tenant, r.App, r.Model,
			r.Variant, r.Group, utc(r.WindowStart), r.WindowSeconds, r.Attempt, r.Outcome, r.StatusCode, redact.String(r.Response), redact.String(r.Error),
			r.DurationMS, utc(r.TS), r.Seq); err != nil {
			_ = b.Abort()
			return fmt.Errorf("cannot append to llm_jobs batch: %w", err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("cannot insert %d rows into llm_jobs: %w", len(rows), err)
	}
	return nil
}

// loadStates reads the newest state row of every fingerprint.
func loadStates(ctx context.Context, conn driver.Conn) ([]alertRow, error) {
	rows, err := conn.Query(ctx, `SELECT fingerprint,
		argMax(alert_id, seq), argMax(rule, seq), argMax(kind, seq), argMax(state, seq),
		argMax(tenant, seq), argMax(app, seq), argMax(model, seq), argMax(variant, seq), argMax(grp, seq),
		argMax(signal, seq), argMax(metric, seq), argMax(value, seq), argMax(threshold, seq), argMax(n, seq),
		argMax(consecutive, seq), argMax(window_start, seq), argMax(window_seconds, seq),
		argMax(started_at, seq), argMax(notified_at, seq)
		FROM llm_alerts WHERE kind IN ('state', 'renotify') GROUP BY fingerprint`)
	if err != nil {
		return nil, fmt.Errorf("cannot read alert states from llm_alerts: %w", err)
	}
	defer rows.Close()
	var out []alertRow
	for rows.Next() {
		var r alertRow
		if err := rows.Scan(&r.Fingerprint, &r.AlertID, &r.Rule, &r.Kind, &r.State, &r.Tenant, &r.App, &r.Model, &r.Variant, &r.Group,
			&r.Signal, &r.Metric, &r.Value, &r.Threshold, &r.N, &r.Consecutive, &r.WindowStart, &r.WindowSeconds,
			&r.StartedAt, &r.NotifiedAt); err != nil {
			return nil, fmt.Errorf("cannot read alert states from llm_alerts: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
