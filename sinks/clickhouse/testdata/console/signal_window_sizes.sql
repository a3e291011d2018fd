SELECT window_seconds, count() AS windows FROM llm_signals
WHERE signal = 'events' AND metric = 'count' AND grp = '' AND window_start >= toDateTime(?) AND window_start < toDateTime(?) AND tenant = ? AND app = ? AND model = ? AND variant = ?
GROUP BY window_seconds ORDER BY window_seconds
