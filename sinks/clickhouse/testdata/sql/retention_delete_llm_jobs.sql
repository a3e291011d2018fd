ALTER TABLE llm_jobs DELETE WHERE (tenant = ? AND ts < toDateTime(?)) OR (tenant NOT IN (?, ?) AND ts < toDateTime(?))
