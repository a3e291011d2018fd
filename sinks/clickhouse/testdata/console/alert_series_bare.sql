SELECT fingerprint, argMax(alert_id, seq) AS alert, argMax(rule, seq) AS rule_name, argMax(state, seq) AS cur_state,
	argMax(severity, seq) AS sev, argMax(tenant, seq) AS t, argMax(app, seq) AS a, argMax(model, seq) AS m, argMax(variant, seq) AS va,
	argMax(grp, seq) AS g, argMax(signal, seq) AS sg, argMax(metric, seq) AS mt, argMax(value, seq) AS v, argMax(threshold, seq) AS th,
	argMax(condition, seq) AS cond, argMax(n, seq) AS events, argMax(window_start, seq) AS ws, argMax(window_seconds, seq) AS wsecs,
	argMax(started_at, seq) AS started, max(ts) AS changed, max(seq) AS last_seq
FROM llm_alerts
WHERE kind IN ('state', 'renotify')
GROUP BY fingerprint
ORDER BY cur_state = 'firing' DESC, cur_state = 'pending' DESC, last_seq DESC
LIMIT ?
