INSERT INTO llm_jobs (idempotency_key, alert_id, rule, fingerprint, action, method, url, tenant, app, model,
	variant, grp, window_start, window_seconds, attempt, outcome, status_code, response, error, duration_ms, ts, seq)
SELECT concat('idem-', toString(k)), concat('alert-', toString(k)), 'synthetic-toxicity', concat('fp-', toString(k)), 'reeval', 'POST',
	'https://k8s.example/apis/batch/v1/namespaces/ml/jobs', arrayElement(['acme', 'globex'], 1 + k % 2), arrayElement(['support-bot', 'search-rag', 'code-assistant', 'summarizer', 'classifier'], 1 + intDiv(k, 2) % 5), arrayElement(['gpt-4o-mini', 'gpt-4o'], 1 + intDiv(k, 10) % 2), arrayElement(['control', 'treatment'], 1 + intDiv(k, 20) % 2), '',
	toDateTime(?), toUInt32(?), 1, 'ok', 201, '{"metadata":{"name":"reeval"}}', '', 80, toDateTime(?), toUInt64(? * 1000000 + k)
FROM (SELECT number AS k FROM numbers(?))
