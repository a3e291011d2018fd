SELECT count(), if(uniqExact(tenant) = 1, any(tenant), '*'), if(uniqExact(app) = 1, any(app), '*'),
	if(uniqExact(model) = 1, any(model), '*'), if(uniqExact(variant) = 1, any(variant), '*'),
	min(window_start), max(toDateTime(toUInt32(window_start) + window_seconds))
FROM llm_alerts WHERE (alert_id = ? OR incident_id = ?)
