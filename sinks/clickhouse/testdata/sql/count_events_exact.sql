SELECT count() FROM llm_events FINAL WHERE ts >= toDateTime(?) AND ts < toDateTime(?) AND tenant = ? AND app = ? AND model = ? AND variant = ?
