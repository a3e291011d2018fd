SELECT variant, window_start, signal, metric, grp, value, n, lo, hi, p_value, threshold, decision, baseline, details,
	computed_at
FROM llm_signals
WHERE tenant = ? AND app = ? AND model = ? AND variant = ? AND window_seconds = ? AND window_start >= toDateTime(?) AND window_start < toDateTime(?) AND window_start = toDateTime(?) AND signal IN ('toxicity', 'hallucination', 'refusal', 'pii', 'prompt_injection', 'error') AND metric = 'rate' AND grp = ''
ORDER BY window_start, variant, signal, metric, grp, computed_at DESC
LIMIT ?
