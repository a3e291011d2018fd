SELECT event_id, tenant, app, '' AS env, ts, ts_us, if(model = '', request_model, model) AS key_model,
	if(variant = '' AND prompt_template_version != '', concat('template:', prompt_template_version), variant) AS key_variant,
	duration_ms, CAST(NULL AS Nullable(Float64)) AS ttft, input_tokens, output_tokens, cost_usd, prompt_chars, completion_chars,
	completion_toxicity, hallucination, prompt_injection, refusal, pii_kinds, error_type, is_error,
	user_id, conversation_id, '' AS template_id, prompt_template_version,
	toFloat64(total_tokens) AS sort_value
FROM llm_events
PREWHERE ts >= toDateTime(?) AND ts < toDateTime(?)
ORDER BY sort_value ASC, event_id ASC
LIMIT ?
