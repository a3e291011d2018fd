SELECT count(), any(tenant), any(app), any(model), any(variant),
	min(window_start), max(toDateTime(toUInt32(window_start) + window_seconds))
FROM llm_alerts WHERE alert_id = ?
