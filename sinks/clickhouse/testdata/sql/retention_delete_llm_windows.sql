ALTER TABLE llm_windows DELETE WHERE (tenant = ? AND window_start < toDateTime(?)) OR (tenant NOT IN (?, ?) AND window_start < toDateTime(?))
