SELECT tenant, app, model, variant, partial FROM llm_windows FINAL
WHERE window_seconds = ? AND window_start >= ? AND window_start < ?
