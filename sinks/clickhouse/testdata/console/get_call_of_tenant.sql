SELECT event_id, tenant, app, environment, ts, ts_us, if(model = '', request_model, model) AS key_model,
	if(variant = '' AND prompt_template_version != '', concat('template:', prompt_template_version), variant) AS key_variant,
	duration_ms, ttft_ms, input_tokens, output_tokens, cost_usd, prompt_chars, completion_chars,
	completion_toxicity, hallucination, prompt_injection, refusal, pii_kinds, error_type, is_error,
	user_id, conversation_id, prompt_template_id, prompt_template_version, toFloat64(0) AS sort_value,
	provider, operation, request_model, model, prompt_roles, prompt_contents, completion_roles, completion_contents, finish_reasons,
	context, reference, error_message, trace_id, span_id, segment_keys, segment_values, attribute_keys, attribute_values,
	sdk_name, sdk_version, response_id, truncated, total_tokens, prompt_toxicity, toxicity_evidence, grounding, unsupported_spans,
	rouge_l, bleu, token_f1, exact_match, injection_evidence, refusal_confidence, detector_errors, ingested_at
FROM llm_events
WHERE tenant = ? AND event_id = ?
ORDER BY ingested_at DESC
LIMIT 1
