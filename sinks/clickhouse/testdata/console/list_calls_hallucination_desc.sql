SELECT event_id, tenant, app, '' AS env, ts, ts_us, if(model = '', request_model, model) AS key_model,
	if(variant = '' AND prompt_template_version != '', concat('template:', prompt_template_version), variant) AS key_variant,
	duration_ms, CAST(NULL AS Nullable(Float64)) AS ttft, input_tokens, output_tokens, cost_usd, prompt_chars, completion_chars,
	completion_toxicity, hallucination, prompt_injection, refusal, pii_kinds, error_type, is_error,
	user_id, conversation_id, '' AS template_id, prompt_template_version,
	toFloat64(ifNull(hallucination, -1)) AS sort_value
FROM llm_events
PREWHERE ts >= toDateTime(?) AND ts < toDateTime(?) AND tenant = ? AND app = ? AND (model = ? OR (model = '' AND request_model = ?)) AND variant = ? AND environment = ? AND completion_toxicity >= ? AND hallucination >= ? AND prompt_injection >= ? AND refusal = 1 AND is_error = 1 AND has(pii_kinds, ?) AND prompt_template_id = ? AND prompt_template_version = ? AND user_id = ? AND conversation_id = ? AND has(segment_keys, ?) AND segment_values[indexOf(segment_keys, ?)] = ? AND (sort_value < ? OR (sort_value = ? AND event_id < ?)) AND sort_value >= ?
ORDER BY sort_value DESC, event_id DESC
LIMIT ?
