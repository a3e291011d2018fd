SELECT ts, seq, idempotency_key, alert_id, rule, action, method, url, tenant, app, model, variant, grp,
	window_start, window_seconds, attempt, outcome, status_code, substring(response, 1, 300), error, duration_ms
FROM llm_jobs
WHERE ts >= toDateTime(?) AND ts < toDateTime(?)
ORDER BY seq DESC
LIMIT ?
