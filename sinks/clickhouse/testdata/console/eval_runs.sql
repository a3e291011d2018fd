SELECT job_id, alert_id, tenant, app, model, variant, from_ts, to_ts, judge_model, started_at, finished_at,
	events, skipped, judged, invalid, failed, verdicts, toxic_rate, hallucination_rate, bias_rate,
	toxicity_precision, toxicity_recall, toxicity_f1, hallucination_precision, hallucination_recall, hallucination_f1
FROM llm_eval_runs FINAL
WHERE started_at >= toDateTime(?) AND started_at < toDateTime(?) AND tenant = ? AND app = ? AND model = ? AND variant = ?
ORDER BY started_at DESC, job_id
LIMIT ?
