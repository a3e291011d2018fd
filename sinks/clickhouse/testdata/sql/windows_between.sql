SELECT partial FROM llm_windows FINAL
WHERE tenant = ? AND app = ? AND model = ? AND variant = ? AND window_seconds = ? AND window_start >= ? AND window_start < ?
ORDER BY window_start
