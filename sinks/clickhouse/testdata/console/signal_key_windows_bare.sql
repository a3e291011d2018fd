SELECT window_seconds, tenant, app, model, variant, count() AS windows, sum(v) AS calls FROM (
	SELECT window_seconds, tenant, app, model, variant, window_start, argMax(value, computed_at) AS v
	FROM llm_signals
	PREWHERE signal = 'events' AND metric = 'count' AND grp = ''
	WHERE window_start >= toDateTime(?) AND window_start < toDateTime(?)
	GROUP BY window_seconds, tenant, app, model, variant, window_start
)
GROUP BY window_seconds, tenant, app, model, variant
ORDER BY window_seconds, calls DESC, tenant, app, model, variant
LIMIT 10000
