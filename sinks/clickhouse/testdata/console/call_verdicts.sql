SELECT job_id, judge_model, valid, error, toxic, toxicity_score, hallucinated, hallucination_score,
	unsupported_claims, biased, bias_explanation, detector_toxicity, detector_hallucination, ts
FROM llm_evaluations FINAL
WHERE tenant = ? AND event_id = ?
ORDER BY ts DESC, job_id
LIMIT ?
