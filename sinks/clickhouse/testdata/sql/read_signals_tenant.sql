SELECT tenant, app, model, variant, window_start, window_seconds, signal, metric, grp,
	value, n, lo, hi, p_value, threshold, decision, baseline, details
FROM llm_signals FINAL WHERE window_start >= toDateTime(?) AND window_start < toDateTime(?) AND tenant = ?
ORDER BY window_start, tenant, app, model, variant, signal, metric, grp LIMIT 10
