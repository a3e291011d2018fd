SELECT * FROM llm_events FINAL WHERE tenant = ? AND user_id = ? ORDER BY ts, ts_us, event_id
