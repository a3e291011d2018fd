INSERT INTO llm_signals (tenant, app, model, variant, window_start,
	window_seconds, signal, metric, grp, value, n, lo, hi, p_value, threshold, decision, baseline, details, computed_at)
SELECT tenant, app, model, variant, window_start, window_seconds, signal, metric, grp, value, n, lo, hi, p_value, threshold,
	toUInt8(metric IN ('drift', 'bias', 'ab_msprt') AND incident), if(metric LIKE 'drift%', 'rolling:10', ''),
	if(metric = 'drift', concat('{"psi":', toString((h % 100) / 200.), ',"psi_threshold":0.2,"alpha":0.0005,"insufficient":false}'),
		if(metric = 'bias_rate', '{"insufficient":false,"reference":false}', '{}')),
	now()
FROM (
	SELECT arrayElement(['acme', 'globex'], 1 + k % 2) AS tenant, arrayElement(['support-bot', 'search-rag', 'code-assistant', 'summarizer', 'classifier'], 1 + intDiv(k, 2) % 5) AS app, arrayElement(['gpt-4o-mini', 'gpt-4o'], 1 + intDiv(k, 10) % 2) AS model, arrayElement(['control', 'treatment'], 1 + intDiv(k, 20) % 2) AS variant,
		toDateTime(? + intDiv(kw, ?) * ?) AS window_start, toUInt32(?) AS window_seconds,
		arrayJoin(['events']) AS signal, arrayJoin(['count']) AS metric,
		arrayJoin(['']) AS grp,
		cityHash64(kw, signal, metric, grp) AS h, (h % 1000) / 1000. AS value, toUInt64(100 + h % 900) AS n,
		if(metric IN ('rate', 'bias_rate', 'ab_diff', 'ab_welch', 'ab_msprt'), value - 0.05, NULL) AS lo,
		if(metric IN ('rate', 'bias_rate', 'ab_diff', 'ab_welch', 'ab_msprt'), value + 0.05, NULL) AS hi,
		if(metric IN ('drift', 'drift_ks', 'bias', 'bias_rate_diff', 'ab_diff', 'ab_welch', 'ab_msprt'), (h % 10000) / 10000., NULL) AS p_value,
		CAST(NULL AS Nullable(Float64)) AS threshold,
		k % 13 = 3 AND intDiv(kw, ?) % 50 < 3 AS incident
	FROM (SELECT number AS kw, number % ? AS k FROM numbers(?))
)
