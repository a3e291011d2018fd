INSERT INTO llm_signals (tenant, app, model, variant, window_start, window_seconds, signal, metric, grp, value, n, lo, hi, p_value, threshold, decision, baseline, details, computed_at)
