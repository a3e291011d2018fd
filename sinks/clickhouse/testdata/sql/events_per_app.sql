SELECT app, model, count() AS n, sum(is_error),
	quantiles(0.5, 0.9, 0.99)(duration_ms), sum(total_tokens), sum(cost_usd)
FROM llm_events FINAL
GROUP BY app, model
ORDER BY app, model
