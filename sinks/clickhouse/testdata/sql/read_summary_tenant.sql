SELECT tenant, app, model, count(), sum(is_error),
	quantiles(0.5, 0.9, 0.99)(duration_ms), sum(total_tokens), sum(cost_usd), min(ts), max(ts)
FROM llm_events FINAL WHERE ts >= toDateTime(?) AND ts < toDateTime(?) AND tenant = ?
GROUP BY tenant, app, model ORDER BY tenant, app, model LIMIT 10
