SELECT app, uniqExact(window_start),
	sumIf(value * n, signal = 'toxicity') / greatest(sumIf(n, signal = 'toxicity'), 1),
	sumIf(value * n, signal = 'hallucination') / greatest(sumIf(n, signal = 'hallucination'), 1),
	sumIf(value * n, signal = 'refusal') / greatest(sumIf(n, signal = 'refusal'), 1),
	sumIf(value * n, signal = 'pii') / greatest(sumIf(n, signal = 'pii'), 1),
	sumIf(value * n, signal = 'prompt_injection') / greatest(sumIf(n, signal = 'prompt_injection'), 1),
	sumIf(value * n, signal = 'error') / greatest(sumIf(n, signal = 'error'), 1),
	maxIf(value, signal = 'toxicity' AND n >= 20)
FROM llm_signals FINAL
WHERE metric = 'rate' AND grp = '' AND window_seconds = (SELECT min(window_seconds) FROM llm_signals)
GROUP BY app ORDER BY app
