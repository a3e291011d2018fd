SELECT tenant, app, model, variant, window_start, window_seconds, signal, metric, grp,
	value, n, lo, hi, p_value, threshold, decision, baseline, details
FROM llm_signals FINAL WHERE window_start >= toDateTime(?) AND window_start < toDateTime(?) AND app = ? AND grp = ? AND metric = ? AND model = ? AND signal = ? AND tenant = ? AND variant = ? AND decision = 1 AND window_seconds = ?
ORDER BY window_start, tenant, app, model, variant, signal, metric, grp LIMIT 10
