SELECT tenant, app, k_model, k_variant, ws, sum(s) AS signals, sum(e) AS events FROM (
	SELECT tenant, app, model AS k_model, variant AS k_variant, window_start AS ws, toUInt64(value) AS s, toUInt64(0) AS e
	FROM llm_signals FINAL
	WHERE signal = 'events' AND metric = 'count' AND grp = '' AND window_seconds = ? AND window_start >= ? AND window_start < ?
	UNION ALL
	SELECT tenant, app, if(model = '', request_model, model) AS k_model,
		if(variant = '' AND prompt_template_version != '', concat('template:', prompt_template_version), variant) AS k_variant,
		toDateTime(intDiv(toUInt32(ts), ?) * ?) AS ws, toUInt64(0) AS s, count() AS e
	FROM llm_events FINAL
	WHERE ts >= ? AND ts < ?
	GROUP BY tenant, app, k_model, k_variant, ws
) GROUP BY tenant, app, k_model, k_variant, ws
ORDER BY ws, tenant, app, k_model, k_variant
