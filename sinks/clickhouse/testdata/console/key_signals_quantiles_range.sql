SELECT variant, window_start, signal, metric, grp, value, n, lo, hi, p_value, threshold, decision, baseline, details,
	computed_at
FROM llm_signals
WHERE tenant = ? AND app = ? AND model = ? AND variant = ? AND window_seconds = ? AND window_start >= toDateTime(?) AND window_start < toDateTime(?) AND signal IN ('latency_ms', 'ttft_ms', 'total_tokens', 'cost_usd') AND metric IN ('p50', 'p90', 'p99', 'mean') AND grp = ''
ORDER BY window_start, variant, signal, metric, grp, computed_at DESC
LIMIT ?
