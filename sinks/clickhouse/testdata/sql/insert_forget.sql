INSERT INTO llm_forget (request_id, tenant, event_id, created_at)
