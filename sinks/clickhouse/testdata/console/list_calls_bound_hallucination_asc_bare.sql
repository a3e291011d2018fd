SELECT count(), max(sort_value) FROM (
	SELECT toFloat64(ifNull(hallucination, -1)) AS sort_value
	FROM llm_events
	PREWHERE ts >= toDateTime(?) AND ts < toDateTime(?)
	ORDER BY sort_value ASC
	LIMIT ?
)
