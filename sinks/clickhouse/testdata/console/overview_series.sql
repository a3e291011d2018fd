SELECT app, model, toDateTime(intDiv(toUInt32(window_start), ?) * ?) AS bucket, signal, metric,
	sum(v) AS total, if(sum(nv) = 0, 0, sum(v * nv) / sum(nv)) AS weighted, sum(nv) AS events, count() AS key_windows
FROM (
	SELECT tenant, app, model, variant, window_start, signal, metric,
		argMax(value, computed_at) AS v, argMax(n, computed_at) AS nv
	FROM llm_signals
	WHERE window_seconds = ? AND grp = '' AND window_start >= toDateTime(?) AND window_start < toDateTime(?) AND tenant = ? AND app = ? AND model = ? AND variant = ?
		AND ((signal = 'events' AND metric = 'count') OR (signal = 'error' AND metric = 'rate')
			OR (signal IN ('latency_ms', 'ttft_ms') AND metric IN ('p50', 'p90', 'p99'))
			OR (signal IN ('total_tokens', 'cost_usd') AND metric = 'total'))
	GROUP BY tenant, app, model, variant, window_start, signal, metric
)
GROUP BY app, model, bucket, signal, metric
ORDER BY app, model, bucket, signal, metric
