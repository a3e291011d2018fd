SELECT count() FROM llm_events FINAL WHERE tenant = ? AND user_id = ?
