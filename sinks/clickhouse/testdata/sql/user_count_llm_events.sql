SELECT count() FROM llm_events WHERE tenant = ? AND user_id = ?
