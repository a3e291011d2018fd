SELECT count(), min(sort_value) FROM (
	SELECT toFloat64(toUInt64(ts) * 1000000 + ts_us) AS sort_value
	FROM llm_events
	PREWHERE ts >= toDateTime(?) AND ts < toDateTime(?)
	ORDER BY sort_value DESC
	LIMIT ?
)
