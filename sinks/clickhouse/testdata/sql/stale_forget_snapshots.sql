SELECT request_id FROM llm_forget GROUP BY request_id HAVING max(created_at) < toDateTime(?) ORDER BY request_id
