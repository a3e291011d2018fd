package clickhouse

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Synthetic data for the Console's benchmark (and anyone sizing a
// server): calls and signal rows made by the server itself with INSERT ...
// SELECT from numbers(), so a million calls take seconds instead of a
// pipeline run. The shapes follow what the stages write: keys of
// SyntheticTenants × SyntheticApps × models × variants, every signal row
// the aggregate stage writes per key and window (events, rates, quantiles,
// drift of every feature, bias per segment group, A/B of the treatment),
// with incidents as they come: a few keys flag in a few runs of windows.
// Never used on real data: the rows are made up.

// The synthetic keys.
var (
	SyntheticTenants  = []string{"acme", "globex"}
	SyntheticApps     = []string{"support-bot", "search-rag", "code-assistant", "summarizer", "classifier"}
	SyntheticModels   = []string{"gpt-4o-mini", "gpt-4o"}
	SyntheticVariants = []string{"control", "treatment"}
)

func sqlStrings(s []string) string {
	return "['" + strings.Join(s, "', '") + "']"
}

// keyExpr picks the key of row k (an expression over the UInt64 column
// k) so that calls and signals share keys: tenant, app, model, variant.
func keyExprs(k string) (tenant, app, model, variant string) {
	nt, na, nm, nv := len(SyntheticTenants), len(SyntheticApps), len(SyntheticModels), len(SyntheticVariants)
	return fmt.Sprintf("arrayElement(%s, 1 + %s %% %d)", sqlStrings(SyntheticTenants), k, nt),
		fmt.Sprintf("arrayElement(%s, 1 + intDiv(%s, %d) %% %d)", sqlStrings(SyntheticApps), k, nt, na),
		fmt.Sprintf("arrayElement(%s, 1 + intDiv(%s, %d) %% %d)", sqlStrings(SyntheticModels), k, nt*na, nm),
		fmt.Sprintf("arrayElement(%s, 1 + intDiv(%s, %d) %% %d)", sqlStrings(SyntheticVariants), k, nt*na*nm, nv)
}

// SyntheticKeys is the number of distinct keys.
func SyntheticKeys() int {
	return len(SyntheticTenants) * len(SyntheticApps) * len(SyntheticModels) * len(SyntheticVariants)
}

// SyntheticEventsStmt inserts n calls with call times spread evenly over
// [from, to): scores (some NULL), a few toxic calls with evidence, PII
// kinds, refusals, errors, conversations and segments.
func SyntheticEventsStmt(n int, from, to time.Time) ConsoleStmt {
	tenant, app, model, variant := keyExprs("k")
	span := to.Unix() - from.Unix()
	return ConsoleStmt{Name: "synthetic_events", SQL: `INSERT INTO llm_events (event_id, tenant, app, environment, ts, ts_us, duration_ms, ttft_ms,
	provider, operation, request_model, model, prompt_roles, prompt_contents, completion_roles, completion_contents, finish_reasons,
	input_tokens, output_tokens, cost_usd, error_type, trace_id, span_id, conversation_id, user_id, variant, segment_keys, segment_values,
	sdk_name, sdk_version, prompt_chars, completion_chars, total_tokens, is_error, ingested_at, completion_toxicity, prompt_toxicity,
	toxicity_evidence, hallucination, pii_kinds, prompt_injection, refusal)
SELECT
	concat(lower(hex(toUInt64(1700000000000) + number)), '-7000-8000-', lower(hex(h))) AS event_id,
	` + tenant + `, ` + app + `, 'prod',
	toDateTime(? + intDiv(number * ?, ?)) AS ts, toUInt32(h % 1000000),
	toFloat64(200 + h % 3000) AS duration_ms, if(h % 3 = 0, NULL, toFloat64(50 + h % 400)),
	'openai', 'chat', ` + model + `, ` + model + `,
	['system', 'user'], ['You are a helpful assistant.', concat('Question number ', toString(number))],
	['assistant'], ['Here is a short answer.'], ['stop'],
	toInt64(20 + h % 500), toInt64(10 + h % 300), (h % 1000) / 1000000.,
	if(h % 100 = 0, 'rate_limit', ''), lower(hex(cityHash64(number, 7))), '',
	concat('conv-', toString(h % 50000)), concat('user-', toString(h % 20000)), ` + variant + `,
	['user.locale', 'user.tier'], [arrayElement(['en-US', 'de-DE', 'hi-IN', 'fr-FR'], 1 + h % 4), arrayElement(['free', 'pro'], 1 + h % 2)],
	'synthetic', '1', toUInt32(60 + h % 400), toUInt32(20 + h % 300), toInt64(30 + h % 800), toUInt8(h % 100 = 0), now(),
	if(h % 5 = 0, NULL, toFloat32((h % 997) / 997.)) AS tox, toFloat32((h % 101) / 1010.),
	if(h % 997 > 940, ['idiot', 'stupid'], emptyArrayString()),
	if(h % 4 = 0, toFloat32((h % 89) / 89.), NULL), if(h % 50 = 0, ['email'], emptyArrayString()),
	toFloat32((h % 83) / 830.), toUInt8(h % 40 = 0)
FROM (SELECT number, cityHash64(number) AS h, cityHash64(number, 3) % ? AS k FROM numbers(?))`,
		Args: []any{from.Unix(), span, n, SyntheticKeys(), n}}
}

// syntheticSignalSets are the signal rows of one key-window, by group of
// statements: [signals] × [metrics] × [groups].
var syntheticSignalSets = []struct {
	name             string
	signals, metrics []string
	groups           []string
	treatmentOnly    bool
}{
	{"counts", []string{"events"}, []string{"count"}, []string{""}, false},
	{"rates", []string{"toxicity", "hallucination", "refusal", "pii", "prompt_injection", "error"}, []string{"rate"}, []string{""}, false},
	{"quantiles", []string{"latency_ms", "ttft_ms", "input_tokens", "output_tokens", "total_tokens", "cost_usd"},
		[]string{"p50", "p90", "p99", "mean"}, []string{""}, false},
	{"drift", []string{"latency_ms", "ttft_ms", "input_tokens", "output_tokens", "total_tokens", "cost_usd", "prompt_chars",
		"completion_chars", "context_chars", "output_tokens_per_second", "completion_toxicity", "prompt_toxicity", "hallucination_risk",
		"prompt_injection_score", "finish_reason", "response_model", "prompt_script", "prompt_topic", "prompt_text"},
		[]string{"drift_psi", "drift_js", "drift_ks", "drift_wasserstein", "drift"}, []string{""}, false},
	{"bias", []string{"toxicity", "hallucination", "refusal", "pii", "prompt_injection", "error"},
		[]string{"bias_rate", "bias_rate_diff", "bias_di_ratio"},
		[]string{"user.locale=en-US", "user.locale=de-DE", "user.locale=hi-IN", "user.locale=fr-FR", "user.locale=es-ES",
			"user.locale=en-GB", "user.tier=free", "user.tier=pro", "user.tier=enterprise"}, false},
	{"bias_summary", []string{"toxicity", "hallucination", "refusal", "pii", "prompt_injection", "error"}, []string{"bias"},
		[]string{"user.locale", "user.tier"}, false},
	{"ab", []string{"toxicity", "hallucination", "refusal", "error", "latency_ms", "ttft_ms", "input_tokens", "output_tokens",
		"total_tokens", "cost_usd", "completion_chars"}, []string{"ab_diff", "ab_welch", "ab_msprt"}, []string{"treatment"}, true},
}

// SyntheticSignalsStmts insert the signal rows of n key-windows of size
// seconds, the windows of each key consecutive from start (key-window i is
// key i % SyntheticKeys(), window i / SyntheticKeys()). The decision rows
// of every 13th key flag in three windows of each fifty.
func SyntheticSignalsStmts(n int, seconds uint32, start time.Time) []ConsoleStmt {
	tenant, app, model, variant := keyExprs("k")
	var out []ConsoleStmt
	for _, set := range syntheticSignalSets {
		where := ""
		if set.treatmentOnly {
			where = "\nWHERE variant = 'treatment'"
		}
		out = append(out, ConsoleStmt{Name: "synthetic_signals_" + set.name, SQL: `INSERT INTO llm_signals (tenant, app, model, variant, window_start,
	window_seconds, signal, metric, grp, value, n, lo, hi, p_value, threshold, decision, baseline, details, computed_at)
SELECT tenant, app, model, variant, window_start, window_seconds, signal, metric, grp, value, n, lo, hi, p_value, threshold,
	toUInt8(metric IN ('drift', 'bias', 'ab_msprt') AND incident), if(metric LIKE 'drift%', 'rolling:10', ''),
	if(metric = 'drift', concat('{"psi":', toString((h % 100) / 200.), ',"psi_threshold":0.2,"alpha":0.0005,"insufficient":false}'),
		if(metric = 'bias_rate', '{"insufficient":false,"reference":false}', '{}')),
	now()
FROM (
	SELECT ` + tenant + ` AS tenant, ` + app + ` AS app, ` + model + ` AS model, ` + variant + ` AS variant,
		toDateTime(? + intDiv(kw, ?) * ?) AS window_start, toUInt32(?) AS window_seconds,
		arrayJoin(` + sqlStrings(set.signals) + `) AS signal, arrayJoin(` + sqlStrings(set.metrics) + `) AS metric,
		arrayJoin(` + sqlStrings(set.groups) + `) AS grp,
		cityHash64(kw, signal, metric, grp) AS h, (h % 1000) / 1000. AS value, toUInt64(100 + h % 900) AS n,
		if(metric IN ('rate', 'bias_rate', 'ab_diff', 'ab_welch', 'ab_msprt'), value - 0.05, NULL) AS lo,
		if(metric IN ('rate', 'bias_rate', 'ab_diff', 'ab_welch', 'ab_msprt'), value + 0.05, NULL) AS hi,
		if(metric IN ('drift', 'drift_ks', 'bias', 'bias_rate_diff', 'ab_diff', 'ab_welch', 'ab_msprt'), (h % 10000) / 10000., NULL) AS p_value,
		CAST(NULL AS Nullable(Float64)) AS threshold,
		k % 13 = 3 AND intDiv(kw, ?) % 50 < 3 AS incident
	FROM (SELECT number AS kw, number % ? AS k FROM numbers(?))
)` + where,
			Args: []any{start.Unix(), SyntheticKeys(), seconds, seconds, SyntheticKeys(), SyntheticKeys(), n}})
	}
	return out
}

// SyntheticAlertsStmt inserts a firing alert series per synthetic key of
// the first tenant, with state rows and action attempts, and a job
// request each.
func SyntheticAlertsStmts(at time.Time, seconds uint32) []ConsoleStmt {
	tenant, app, model, variant := keyExprs("k")
	return []ConsoleStmt{{Name: "synthetic_alerts", SQL: `INSERT INTO llm_alerts (alert_id, rule, fingerprint, kind, state, severity, tenant, app,
	model, variant, grp, signal, metric, value, threshold, condition, n, consecutive, window_start, window_seconds, started_at,
	notified_at, action, action_type, attempt, outcome, status_code, error, duration_ms, labels, ts, seq)
SELECT concat('alert-', toString(k)), 'synthetic-toxicity', concat('fp-', toString(k)), arrayJoin(['state', 'action']) AS kind,
	'firing', 'critical', ` + tenant + `, ` + app + `, ` + model + `, ` + variant + `, '', 'toxicity', 'rate', 0.3, 0.15, '> 0.15', 200, 1,
	toDateTime(?), toUInt32(?), toDateTime(?), toDateTime(?), if(kind = 'action', 'oncall', ''), if(kind = 'action', 'webhook', ''),
	toUInt32(kind = 'action'), if(kind = 'action', 'ok', ''), if(kind = 'action', 200, 0), '', 12.5, '{}', toDateTime(?),
	toUInt64(? * 1000000 + k * 2 + (kind = 'action'))
FROM (SELECT number AS k FROM numbers(?))`, Args: []any{at.Unix(), seconds, at.Unix(), at.Unix(), at.Unix(), at.Unix(), SyntheticKeys()}},
		{Name: "synthetic_jobs", SQL: `INSERT INTO llm_jobs (idempotency_key, alert_id, rule, fingerprint, action, method, url, tenant, app, model,
	variant, grp, window_start, window_seconds, attempt, outcome, status_code, response, error, duration_ms, ts, seq)
SELECT concat('idem-', toString(k)), concat('alert-', toString(k)), 'synthetic-toxicity', concat('fp-', toString(k)), 'reeval', 'POST',
	'https://k8s.example/apis/batch/v1/namespaces/ml/jobs', ` + tenant + `, ` + app + `, ` + model + `, ` + variant + `, '',
	toDateTime(?), toUInt32(?), 1, 'ok', 201, '{"metadata":{"name":"reeval"}}', '', 80, toDateTime(?), toUInt64(? * 1000000 + k)
FROM (SELECT number AS k FROM numbers(?))`, Args: []any{at.Unix(), seconds, at.Unix(), at.Unix(), SyntheticKeys()}}}
}

// FillSynthetic inserts calls calls over [to-span, to) and keyWindows
// key-windows of signals of size seconds ending at to, plus alerts and
// jobs. It is for benchmarks: the data is made up.
func FillSynthetic(ctx context.Context, conn driver.Conn, calls, keyWindows int, seconds uint32, span time.Duration, to time.Time) error {
	windows := (keyWindows + SyntheticKeys() - 1) / SyntheticKeys()
	start := time.Unix(to.Unix()-to.Unix()%int64(seconds)-int64(windows)*int64(seconds), 0)
	stmts := []ConsoleStmt{SyntheticEventsStmt(calls, to.Add(-span), to)}
	stmts = append(stmts, SyntheticSignalsStmts(keyWindows, seconds, start)...)
	stmts = append(stmts, SyntheticAlertsStmts(to.Add(-time.Duration(seconds)*time.Second), seconds)...)
	for _, st := range stmts {
		if err := conn.Exec(ctx, st.SQL, st.Args...); err != nil {
			return fmt.Errorf("cannot insert synthetic data (%s): %w", st.Name, err)
		}
	}
	return nil
}
