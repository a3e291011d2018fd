SELECT count(), sum(truncated), quantiles(0.5, 0.9, 0.99)(duration_ms) FROM llm_events FINAL
