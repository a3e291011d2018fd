SELECT count(), max(sort_value) FROM (
	SELECT cost_usd AS sort_value
	FROM llm_events
	PREWHERE ts >= toDateTime(?) AND ts < toDateTime(?) AND tenant = ? AND app = ? AND (model = ? OR (model = '' AND request_model = ?)) AND variant = ? AND environment = ? AND completion_toxicity >= ? AND hallucination >= ? AND prompt_injection >= ? AND refusal = 1 AND is_error = 1 AND has(pii_kinds, ?) AND prompt_template_id = ? AND prompt_template_version = ? AND user_id = ? AND conversation_id = ? AND has(segment_keys, ?) AND segment_values[indexOf(segment_keys, ?)] = ? AND sort_value > ?
	ORDER BY sort_value ASC
	LIMIT ?
)
