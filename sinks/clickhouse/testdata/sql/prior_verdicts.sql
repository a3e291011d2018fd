SELECT event_id, toxic, hallucinated, biased FROM llm_evaluations FINAL WHERE job_id = ? AND valid = 1
