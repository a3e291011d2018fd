SELECT fingerprint,
	argMax(alert_id, seq), argMax(incident_id, seq), argMax(rule, seq), argMax(kind, seq), argMax(state, seq),
	argMax(tenant, seq), argMax(app, seq), argMax(model, seq), argMax(variant, seq), argMax(grp, seq),
	argMax(signal, seq), argMax(metric, seq), argMax(value, seq), argMax(threshold, seq), argMax(n, seq),
	argMax(consecutive, seq), argMax(window_start, seq), argMax(window_seconds, seq),
	argMax(started_at, seq), argMax(notified_at, seq)
FROM llm_alerts
WHERE kind IN ('state', 'renotify', 'incident', 'incident_renotify')
GROUP BY fingerprint
ORDER BY fingerprint
