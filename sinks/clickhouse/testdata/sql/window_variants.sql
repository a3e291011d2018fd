SELECT variant, partial, computed_at FROM llm_windows FINAL
WHERE tenant = ? AND app = ? AND model = ? AND window_seconds = ? AND window_start = ?
