INSERT INTO llm_windows (tenant, app, model, variant, window_start, window_seconds, n, partial, computed_at)
