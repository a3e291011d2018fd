INSERT INTO llm_baselines (name, tenant, app, model, variant, from_ts, to_ts, n, partial, created_at)
