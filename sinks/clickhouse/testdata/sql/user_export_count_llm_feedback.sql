SELECT count() FROM llm_feedback FINAL WHERE tenant = ? AND target_event_id IN (SELECT event_id FROM llm_events WHERE tenant = ? AND user_id = ?)
