SELECT count() FROM llm_events WHERE (ts < toDateTime(?))
