SELECT event_id, tenant, app, model, variant, ts, prompt_roles, prompt_contents, completion_contents,
	context, reference, completion_toxicity, hallucination FROM llm_events FINAL WHERE ts >= toDateTime(?) AND ts < toDateTime(?) AND tenant = ? AND app = ? AND (ts > toDateTime(?) OR (ts = toDateTime(?) AND event_id > ?)) ORDER BY ts, event_id LIMIT 10
