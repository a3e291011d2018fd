// Package alert is the alert engine: rules over the signal rows of closed
// windows (llm_signals), evaluated as the aggregate stage stores them
// (aggregate.Config.OnSignals = engine.Evaluate), with the state of every
// alert series kept in llm_alerts so a restart neither re-fires nor loses
// a firing alert, and notifications handed to the actions of package
// sinks/notify.
//
// A rule matches signal rows by signal ("name/metric", path.Match
// patterns), scope (tenant, app, model, variant, group; empty means any)
// and optionally window size. Each matching row is one observation of a
// series: (rule, tenant, app, model, variant, group, signal, window size),
// identified by a stable fingerprint. The row matches the rule's condition
// — "value <op> threshold", or "drifted" / "significant" for rows that
// carry their own test decision — or it does not; a row with fewer than
// min_samples events, a non-finite value, or a window in which the series
// had no row at all while other series did, is "no data", handled by the
// rule's no_data policy (keep the state, treat as ok, or treat as
// alerting).
//
// States: a matching observation makes an inactive series pending; `for`
// consecutive matching windows make it firing (for: 1 fires in the same
// Evaluate call as the window that crossed the threshold); a
// non-matching one resolves a firing series or clears a pending one.
// Replayed windows (window start not after the last one evaluated for the
// series) are ignored, so a replay after a restart does not count twice;
// corrected windows are judged again in their place.
//
// Notifications are per incident, as Alertmanager groups alerts: the
// series of a rule that share its group_by keys (default tenant and app)
// form a group, and an incident is one firing of a group (see incident in
// incident.go): one firing notification (version 2, listing the series
// that fired in that Evaluate) when the first fires, silence when others
// join, a re-notification listing every member each renotify interval (0:
// never), one resolved notification when the last resolves, and one job
// request. Alertmanager actions still get every series' own notifications
// (version 1). llm_alerts keeps each series' history, the incident's rows
// and the incident id on its members' rows, so a restarted engine carries
// on with the same incident and notifies nothing again.
//
// The engine must never block the pipeline on a receiver: Evaluate writes
// the state changes to ClickHouse (one batch) and queues the notifications
// without waiting; delivery, retries and their records happen on the
// notify.Dispatcher's workers, and a full queue drops and counts.
//
// Action errors, answers and URLs are redacted (internal/redact) by the
// actions and again where they are written to llm_alerts and llm_jobs and
// logged: no receiver token, password or header value reaches a table, a
// log line or the read API. A notification given up on is logged once.
package alert
