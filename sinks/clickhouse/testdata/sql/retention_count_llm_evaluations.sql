SELECT count() FROM llm_evaluations WHERE (tenant = ? AND event_ts < toDateTime(?)) OR (tenant NOT IN (?, ?) AND event_ts < toDateTime(?))
