SELECT count() FROM llm_events WHERE (tenant = ? AND ts < toDateTime(?)) OR (tenant NOT IN (?, ?) AND ts < toDateTime(?))
