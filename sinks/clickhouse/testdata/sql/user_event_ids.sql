SELECT DISTINCT event_id FROM llm_events WHERE tenant = ? AND user_id = ?
