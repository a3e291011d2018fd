SELECT
	(SELECT count() FROM llm_events WHERE tenant = ?) AS calls,
	(SELECT toUInt32(max(computed_at)) FROM llm_signals WHERE tenant = ?) AS signals,
	(SELECT max(seq) FROM llm_alerts WHERE tenant = ?) AS alerts,
	(SELECT count() FROM llm_jobs WHERE tenant = ?) AS jobs,
	(SELECT count() FROM llm_eval_runs WHERE tenant = ?) AS runs
