SELECT count() FROM llm_events WHERE tenant = ? AND event_id IN (SELECT event_id FROM llm_forget WHERE request_id = ?)
