SELECT
	(SELECT count() FROM llm_events) AS calls,
	(SELECT toUInt32(max(computed_at)) FROM llm_signals) AS signals,
	(SELECT max(seq) FROM llm_alerts) AS alerts,
	(SELECT count() FROM llm_jobs) AS jobs,
	(SELECT count() FROM llm_eval_runs) AS runs
