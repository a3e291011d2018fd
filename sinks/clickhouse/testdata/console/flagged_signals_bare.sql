SELECT tenant, app, model, variant, window_start, window_seconds, signal, metric, grp,
	argMax(value, computed_at) AS v, argMax(n, computed_at) AS events, argMax(decision, computed_at) AS flagged
FROM llm_signals
WHERE metric IN ('drift', 'bias', 'ab_msprt') AND window_start >= toDateTime(?) AND window_start < toDateTime(?)
	AND (tenant, app, model, variant, window_seconds, window_start, signal, metric, grp) IN (
		SELECT tenant, app, model, variant, window_seconds, window_start, signal, metric, grp FROM llm_signals
		WHERE decision = 1 AND metric IN ('drift', 'bias', 'ab_msprt') AND window_start >= toDateTime(?) AND window_start < toDateTime(?))
GROUP BY tenant, app, model, variant, window_start, window_seconds, signal, metric, grp
HAVING flagged = 1
ORDER BY window_start DESC, tenant, app, model, variant, signal, metric, grp
LIMIT ?
