package clickhouse

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sightline-dev/sightline/internal/redact"
)

// Row kinds of llm_alerts. A series is one (rule, scope, signal, window
// size); an incident is one firing of a rule's group (group_by), whose
// members are series.
const (
	AlertKindState            = "state"             // a series changed state
	AlertKindRenotify         = "renotify"          // a firing series was notified again
	AlertKindIncident         = "incident"          // an incident started firing or resolved
	AlertKindIncidentRenotify = "incident_renotify" // a firing incident was notified again
	AlertKindAction           = "action"            // one action attempt
)

// AlertRow is one row of llm_alerts. For series rows, AlertID is the
// series' firing episode and IncidentID the incident it was part of (set on
// firing and resolved rows). For incident rows and the attempts of an
// incident's notifications, both are the incident id, Fingerprint is the
// group's, the scope is what its series share, the signal, value and
// window are its worst series', and Consecutive counts its firing series.
type AlertRow struct {
	AlertID, IncidentID, Rule, Fingerprint, Kind, State, Severity string
	Tenant, App, Model, Variant, Group                            string
	Signal, Metric                                                string
	Value, Threshold                                              float64
	Condition                                                     string
	N                                                             uint64
	Consecutive                                                   uint32
	WindowStart                                                   time.Time
	WindowSeconds                                                 uint32
	StartedAt, NotifiedAt                                         time.Time
	Action, ActionType                                            string
	Attempt                                                       uint32
	Outcome                                                       string
	StatusCode                                                    int32
	Error                                                         string
	DurationMS                                                    float64
	Labels                                                        string
	TS                                                            time.Time
	Seq                                                           uint64
}

// Alerts is the insert of llm_alerts. Errors come from receivers: they
// are redacted (internal/redact) once more as they are written — the
// actions redact at the source, this is the last point before the table
// and the read API, and redaction is idempotent.
var Alerts = NewTable("llm_alerts",
	Col("alert_id", func(r *AlertRow) any { return r.AlertID }),
	Col("rule", func(r *AlertRow) any { return r.Rule }),
	Col("fingerprint", func(r *AlertRow) any { return r.Fingerprint }),
	Col("kind", func(r *AlertRow) any { return r.Kind }),
	Col("state", func(r *AlertRow) any { return r.State }),
	Col("severity", func(r *AlertRow) any { return r.Severity }),
	Col("tenant", func(r *AlertRow) any { return r.Tenant }),
	Col("app", func(r *AlertRow) any { return r.App }),
	Col("model", func(r *AlertRow) any { return r.Model }),
	Col("variant", func(r *AlertRow) any { return r.Variant }),
	Col("grp", func(r *AlertRow) any { return r.Group }),
	Col("signal", func(r *AlertRow) any { return r.Signal }),
	Col("metric", func(r *AlertRow) any { return r.Metric }),
	Col("value", func(r *AlertRow) any { return r.Value }),
	Col("threshold", func(r *AlertRow) any { return r.Threshold }),
	Col("condition", func(r *AlertRow) any { return r.Condition }),
	Col("n", func(r *AlertRow) any { return r.N }),
	Col("consecutive", func(r *AlertRow) any { return r.Consecutive }),
	Col("window_start", func(r *AlertRow) any { return utc(r.WindowStart) }),
	Col("window_seconds", func(r *AlertRow) any { return r.WindowSeconds }),
	Col("started_at", func(r *AlertRow) any { return utc(r.StartedAt) }),
	Col("notified_at", func(r *AlertRow) any { return utc(r.NotifiedAt) }),
	Col("action", func(r *AlertRow) any { return r.Action }),
	Col("action_type", func(r *AlertRow) any { return r.ActionType }),
	Col("attempt", func(r *AlertRow) any { return r.Attempt }),
	Col("outcome", func(r *AlertRow) any { return r.Outcome }),
	Col("status_code", func(r *AlertRow) any { return r.StatusCode }),
	Col("error", func(r *AlertRow) any { return redact.String(r.Error) }),
	Col("duration_ms", func(r *AlertRow) any { return r.DurationMS }),
	Col("labels", func(r *AlertRow) any { return r.Labels }),
	Col("ts", func(r *AlertRow) any { return utc(r.TS) }),
	Col("seq", func(r *AlertRow) any { return r.Seq }),
	Col("incident_id", func(r *AlertRow) any { return r.IncidentID }),
)

// JobRow is one row of llm_jobs: one attempt of a job request.
type JobRow struct {
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

// Jobs is the insert of llm_jobs; URLs, answers and errors are redacted
// as they are written (see Alerts).
var Jobs = NewTable("llm_jobs",
	Col("idempotency_key", func(r *JobRow) any { return r.IdempotencyKey }),
	Col("alert_id", func(r *JobRow) any { return r.AlertID }),
	Col("rule", func(r *JobRow) any { return r.Rule }),
	Col("fingerprint", func(r *JobRow) any { return r.Fingerprint }),
	Col("action", func(r *JobRow) any { return r.Action }),
	Col("method", func(r *JobRow) any { return r.Method }),
	Col("url", func(r *JobRow) any { return redact.URL(r.URL) }),
	Col("tenant", func(r *JobRow) any { return r.Tenant }),
	Col("app", func(r *JobRow) any { return r.App }),
	Col("model", func(r *JobRow) any { return r.Model }),
	Col("variant", func(r *JobRow) any { return r.Variant }),
	Col("grp", func(r *JobRow) any { return r.Group }),
	Col("window_start", func(r *JobRow) any { return utc(r.WindowStart) }),
	Col("window_seconds", func(r *JobRow) any { return r.WindowSeconds }),
	Col("attempt", func(r *JobRow) any { return r.Attempt }),
	Col("outcome", func(r *JobRow) any { return r.Outcome }),
	Col("status_code", func(r *JobRow) any { return r.StatusCode }),
	Col("response", func(r *JobRow) any { return redact.String(r.Response) }),
	Col("error", func(r *JobRow) any { return redact.String(r.Error) }),
	Col("duration_ms", func(r *JobRow) any { return r.DurationMS }),
	Col("ts", func(r *JobRow) any { return utc(r.TS) }),
	Col("seq", func(r *JobRow) any { return r.Seq }),
)

// utc stores the zero time as the epoch (DateTime cannot hold year 1).
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Unix(0, 0).UTC()
	}
	return t.UTC()
}

// AlertStatesSQL reads the newest state row of every fingerprint: series
// (state, renotify) and incidents (incident, incident_renotify). seq orders
// the rows (ts has second resolution).
const AlertStatesSQL = `SELECT fingerprint,
	argMax(alert_id, seq), argMax(incident_id, seq), argMax(rule, seq), argMax(kind, seq), argMax(state, seq),
	argMax(tenant, seq), argMax(app, seq), argMax(model, seq), argMax(variant, seq), argMax(grp, seq),
	argMax(signal, seq), argMax(metric, seq), argMax(value, seq), argMax(threshold, seq), argMax(n, seq),
	argMax(consecutive, seq), argMax(window_start, seq), argMax(window_seconds, seq),
	argMax(started_at, seq), argMax(notified_at, seq)
FROM llm_alerts
WHERE kind IN ('state', 'renotify', 'incident', 'incident_renotify')
GROUP BY fingerprint
ORDER BY fingerprint`

// LoadAlertStates returns the newest state row of every alert series and
// incident in llm_alerts (the fields the query above reads; the others are
// zero), in fingerprint order.
func LoadAlertStates(ctx context.Context, conn driver.Conn) ([]AlertRow, error) {
	rows, err := conn.Query(ctx, AlertStatesSQL)
	if err != nil {
		return nil, fmt.Errorf("cannot read alert states from llm_alerts: %w", err)
	}
	defer rows.Close()
	var out []AlertRow
	for rows.Next() {
		var r AlertRow
		if err := rows.Scan(&r.Fingerprint, &r.AlertID, &r.IncidentID, &r.Rule, &r.Kind, &r.State, &r.Tenant, &r.App, &r.Model, &r.Variant,
			&r.Group, &r.Signal, &r.Metric, &r.Value, &r.Threshold, &r.N, &r.Consecutive, &r.WindowStart, &r.WindowSeconds,
			&r.StartedAt, &r.NotifiedAt); err != nil {
			return nil, fmt.Errorf("cannot read alert states from llm_alerts: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot read alert states from llm_alerts: %w", err)
	}
	return out, nil
}
