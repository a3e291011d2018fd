SELECT rule, signal, metric, argMax(condition, seq) AS cond, argMax(threshold, seq) AS th,
	argMax(window_seconds, seq) AS secs
FROM llm_alerts
WHERE tenant = ? AND app = ? AND model = ? AND variant = ? AND kind = 'state'
GROUP BY rule, signal, metric
ORDER BY rule, signal, metric
LIMIT 50
