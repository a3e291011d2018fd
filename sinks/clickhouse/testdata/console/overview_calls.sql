SELECT app, model, toDateTime(intDiv(toUInt32(ts), ?) * ?) AS bucket, count() AS calls, toUInt64(sum(is_error)) AS errors,
	arrayMap(x -> toFloat64(x), quantilesTDigest(0.5, 0.9, 0.99)(duration_ms)) AS latency,
	toFloat64(quantileTDigest(0.5)(ttft_ms)) AS ttft, sum(total_tokens) AS tokens, sum(cost_usd) AS cost
FROM llm_events
PREWHERE ts >= toDateTime(?) AND ts < toDateTime(?) AND tenant = ? AND app = ? AND model = ? AND variant = ? AND environment = ?
GROUP BY app, model, bucket WITH TOTALS
ORDER BY app, model, bucket
LIMIT 20000
