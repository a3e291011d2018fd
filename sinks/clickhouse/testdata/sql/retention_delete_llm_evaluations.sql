ALTER TABLE llm_evaluations DELETE WHERE (tenant = ? AND event_ts < toDateTime(?)) OR (tenant NOT IN (?, ?) AND event_ts < toDateTime(?))
