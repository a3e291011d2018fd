INSERT INTO llm_events (event_id, tenant, app, environment, ts, ts_us, duration_ms, ttft_ms,
	provider, operation, request_model, model, prompt_roles, prompt_contents, completion_roles, completion_contents, finish_reasons,
	input_tokens, output_tokens, cost_usd, error_type, trace_id, span_id, conversation_id, user_id, variant, segment_keys, segment_values,
	sdk_name, sdk_version, prompt_chars, completion_chars, total_tokens, is_error, ingested_at, completion_toxicity, prompt_toxicity,
	toxicity_evidence, hallucination, pii_kinds, prompt_injection, refusal)
SELECT
	concat(lower(hex(toUInt64(1700000000000) + number)), '-7000-8000-', lower(hex(h))) AS event_id,
	arrayElement(['acme', 'globex'], 1 + k % 2), arrayElement(['support-bot', 'search-rag', 'code-assistant', 'summarizer', 'classifier'], 1 + intDiv(k, 2) % 5), 'prod',
	toDateTime(? + intDiv(number * ?, ?)) AS ts, toUInt32(h % 1000000),
	toFloat64(200 + h % 3000) AS duration_ms, if(h % 3 = 0, NULL, toFloat64(50 + h % 400)),
	'openai', 'chat', arrayElement(['gpt-4o-mini', 'gpt-4o'], 1 + intDiv(k, 10) % 2), arrayElement(['gpt-4o-mini', 'gpt-4o'], 1 + intDiv(k, 10) % 2),
	['system', 'user'], ['You are a helpful assistant.', concat('Question number ', toString(number))],
	['assistant'], ['Here is a short answer.'], ['stop'],
	toInt64(20 + h % 500), toInt64(10 + h % 300), (h % 1000) / 1000000.,
	if(h % 100 = 0, 'rate_limit', ''), lower(hex(cityHash64(number, 7))), '',
	concat('conv-', toString(h % 50000)), concat('user-', toString(h % 20000)), arrayElement(['control', 'treatment'], 1 + intDiv(k, 20) % 2),
	['user.locale', 'user.tier'], [arrayElement(['en-US', 'de-DE', 'hi-IN', 'fr-FR'], 1 + h % 4), arrayElement(['free', 'pro'], 1 + h % 2)],
	'synthetic', '1', toUInt32(60 + h % 400), toUInt32(20 + h % 300), toInt64(30 + h % 800), toUInt8(h % 100 = 0), now(),
	if(h % 5 = 0, NULL, toFloat32((h % 997) / 997.)) AS tox, toFloat32((h % 101) / 1010.),
	if(h % 997 > 940, ['idiot', 'stupid'], emptyArrayString()),
	if(h % 4 = 0, toFloat32((h % 89) / 89.), NULL), if(h % 50 = 0, ['email'], emptyArrayString()),
	toFloat32((h % 83) / 830.), toUInt8(h % 40 = 0)
FROM (SELECT number, cityHash64(number) AS h, cityHash64(number, 3) % ? AS k FROM numbers(?))
