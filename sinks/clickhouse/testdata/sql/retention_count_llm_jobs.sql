SELECT count() FROM llm_jobs WHERE (tenant = ? AND ts < toDateTime(?)) OR (tenant NOT IN (?, ?) AND ts < toDateTime(?))
