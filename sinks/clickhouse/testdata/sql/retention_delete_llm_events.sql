ALTER TABLE llm_events DELETE WHERE (tenant = ? AND ts < toDateTime(?)) OR (tenant NOT IN (?, ?) AND ts < toDateTime(?))
