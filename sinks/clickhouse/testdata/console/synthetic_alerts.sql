INSERT INTO llm_alerts (alert_id, rule, fingerprint, kind, state, severity, tenant, app,
	model, variant, grp, signal, metric, value, threshold, condition, n, consecutive, window_start, window_seconds, started_at,
	notified_at, action, action_type, attempt, outcome, status_code, error, duration_ms, labels, ts, seq)
SELECT concat('alert-', toString(k)), 'synthetic-toxicity', concat('fp-', toString(k)), arrayJoin(['state', 'action']) AS kind,
	'firing', 'critical', arrayElement(['acme', 'globex'], 1 + k % 2), arrayElement(['support-bot', 'search-rag', 'code-assistant', 'summarizer', 'classifier'], 1 + intDiv(k, 2) % 5), arrayElement(['gpt-4o-mini', 'gpt-4o'], 1 + intDiv(k, 10) % 2), arrayElement(['control', 'treatment'], 1 + intDiv(k, 20) % 2), '', 'toxicity', 'rate', 0.3, 0.15, '> 0.15', 200, 1,
	toDateTime(?), toUInt32(?), toDateTime(?), toDateTime(?), if(kind = 'action', 'oncall', ''), if(kind = 'action', 'webhook', ''),
	toUInt32(kind = 'action'), if(kind = 'action', 'ok', ''), if(kind = 'action', 200, 0), '', 12.5, '{}', toDateTime(?),
	toUInt64(? * 1000000 + k * 2 + (kind = 'action'))
FROM (SELECT number AS k FROM numbers(?))
