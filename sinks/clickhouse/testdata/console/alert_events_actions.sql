SELECT ts, seq, alert_id, rule, kind, state, severity, tenant, app, model, variant, grp, signal, metric,
	value, threshold, n, window_start, window_seconds, action, action_type, attempt, outcome, status_code, error, duration_ms
FROM llm_alerts
WHERE kind = 'action' AND ts >= toDateTime(?) AND ts < toDateTime(?) AND tenant = ? AND app = ? AND model = ? AND variant = ? AND rule = ? AND seq < ?
ORDER BY seq DESC
LIMIT ?
