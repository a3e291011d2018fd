SELECT count(), max(sort_value) FROM (
	SELECT cost_usd AS sort_value
	FROM llm_events
	PREWHERE ts >= toDateTime(?) AND ts < toDateTime(?)
	ORDER BY sort_value ASC
	LIMIT ?
)
