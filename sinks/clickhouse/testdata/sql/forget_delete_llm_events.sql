ALTER TABLE llm_events DELETE WHERE tenant = ? AND event_id IN (SELECT event_id FROM llm_forget WHERE request_id = ?)
