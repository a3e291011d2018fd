SELECT tenant, app, model, variant, sum(v) AS calls, count() AS windows FROM (
	SELECT tenant, app, model, variant, window_start, argMax(value, computed_at) AS v
	FROM llm_signals
	WHERE signal = 'events' AND metric = 'count' AND grp = '' AND window_seconds = ? AND window_start >= toDateTime(?) AND window_start < toDateTime(?)
	GROUP BY tenant, app, model, variant, window_start
)
GROUP BY tenant, app, model, variant
ORDER BY calls DESC, tenant, app, model, variant
LIMIT ?
