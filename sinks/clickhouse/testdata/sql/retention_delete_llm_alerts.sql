ALTER TABLE llm_alerts DELETE WHERE (tenant = ? AND ts < toDateTime(?)) OR (tenant NOT IN (?, ?) AND ts < toDateTime(?))
