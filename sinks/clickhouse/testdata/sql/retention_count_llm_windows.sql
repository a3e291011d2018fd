SELECT count() FROM llm_windows WHERE (tenant = ? AND window_start < toDateTime(?)) OR (tenant NOT IN (?, ?) AND window_start < toDateTime(?))
