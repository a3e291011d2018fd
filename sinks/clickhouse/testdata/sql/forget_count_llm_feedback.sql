SELECT count() FROM llm_feedback WHERE tenant = ? AND target_event_id IN (SELECT event_id FROM llm_forget WHERE request_id = ?)
