SELECT count() FROM llm_evaluations FINAL WHERE tenant = ? AND event_id IN (SELECT event_id FROM llm_events WHERE tenant = ? AND user_id = ?)
