INSERT INTO llm_feedback (event_id, target_event_id, tenant, app, ts, score, label, comment, ingested_at)
