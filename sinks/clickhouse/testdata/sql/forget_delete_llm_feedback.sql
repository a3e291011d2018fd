ALTER TABLE llm_feedback DELETE WHERE tenant = ? AND target_event_id IN (SELECT event_id FROM llm_forget WHERE request_id = ?)
