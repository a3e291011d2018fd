SELECT tenant, app, model, variant, window_start, window_seconds, signal, metric, grp, value, n
FROM llm_signals
PREWHERE decision = 1
WHERE metric IN ('drift', 'bias', 'ab_msprt') AND window_start >= toDateTime(?) AND window_start < toDateTime(?)
ORDER BY window_start DESC, tenant, app, model, variant, window_seconds, signal, metric, grp
LIMIT ?
