SELECT rule, action, idempotency_key, attempt, outcome, status_code FROM llm_jobs
ORDER BY rule, idempotency_key, attempt LIMIT ?
