SELECT uniqExact(tenant, app, model, variant, window_start, window_seconds), count()
FROM llm_signals FINAL WHERE signal = 'events' AND grp = ''
