SELECT ts, alert_id, rule, kind, state, severity, tenant, app, model, variant, grp,
	signal, metric, value, threshold, n, window_start, window_seconds, action, action_type, attempt, outcome,
	status_code, error, incident_id
FROM llm_alerts WHERE ts >= toDateTime(?) AND ts < toDateTime(?) AND app = ? AND kind = ? AND model = ? AND rule = ? AND severity = ? AND state = ? AND tenant = ? ORDER BY seq LIMIT 10
