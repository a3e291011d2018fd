package clickhouse

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// The calls explorer reads llm_events without FINAL: a FINAL over a
// million rows costs more than the whole page may take, and the copies a
// replay leaves are identical (same event id, time and scores), so they
// sort next to each other and DedupCalls drops them. Pages are keyed by
// the sort value and the event id (keyset), never by OFFSET.

// CallSort is a column the calls explorer sorts by.
type CallSort string

// The sorts, each a fixed Float64 expression (time as microseconds since
// 1970: exact in a float64 until the year 2255).
const (
	SortTime          CallSort = "time"
	SortLatency       CallSort = "latency"
	SortCost          CallSort = "cost"
	SortTokens        CallSort = "tokens"
	SortToxicity      CallSort = "toxicity"
	SortHallucination CallSort = "hallucination"
	SortInjection     CallSort = "injection"
)

var sortExprs = map[CallSort]string{
	SortTime:          "toFloat64(toUInt64(ts) * 1000000 + ts_us)",
	SortLatency:       "duration_ms",
	SortCost:          "cost_usd",
	SortTokens:        "toFloat64(total_tokens)",
	SortToxicity:      "toFloat64(ifNull(completion_toxicity, -1))",
	SortHallucination: "toFloat64(ifNull(hallucination, -1))",
	SortInjection:     "toFloat64(ifNull(prompt_injection, -1))",
}

// CallSorts lists the sorts in a fixed order.
func CallSorts() []CallSort {
	return []CallSort{SortTime, SortLatency, SortCost, SortTokens, SortToxicity, SortHallucination, SortInjection}
}

// CallCursor is where a page of calls continues: after the call with
// this sort value and event id.
type CallCursor struct {
	Value   float64
	EventID string
}

// CallQuery is the calls explorer's selection. Empty strings and nil
// pointers are no condition.
type CallQuery struct {
	Scope       ConsoleScope
	Environment string
	// Minimum scores (completion toxicity, hallucination risk,
	// prompt-injection score).
	MinToxicity, MinHallucination, MinInjection *float64
	Refusal, Error                              bool
	// PII is a PII kind the call must contain, or "any".
	PII             string
	Template        string
	TemplateVersion string
	User            string
	Conversation    string
	// SegmentKey and SegmentValue select calls whose segment attribute
	// has that value (an alert's group "attr=value").
	SegmentKey, SegmentValue string
	Sort                     CallSort
	Ascending                bool
	After                    *CallCursor
	Limit                    int
	// Bound, set by ListCalls for sorts other than time, keeps the rows
	// whose sort value is at least (descending; at most, ascending) the
	// page's last one, found first from the sort value alone.
	Bound *float64
}

// CallSummary is one row of the calls explorer: scores, lengths and
// labels, never content. The explorer leaves Environment, TTFTMS and
// TemplateID empty (it does not show them).
type CallSummary struct {
	EventID, Tenant, App, Environment string
	TS                                time.Time
	Model, Variant                    string
	DurationMS                        float64
	TTFTMS                            *float64
	InputTokens, OutputTokens         int64
	CostUSD                           float64
	PromptChars, CompletionChars      uint32
	CompletionToxicity                *float32
	Hallucination                     *float32
	PromptInjection                   *float32
	Refusal                           bool
	PIIKinds                          []string
	ErrorType                         string
	IsError                           bool
	UserID, ConversationID            string
	TemplateID, TemplateVersion       string
	SortValue                         float64
}

const callSummaryColumns = `event_id, tenant, app, environment, ts, ts_us, if(model = '', request_model, model) AS key_model,
	if(variant = '' AND prompt_template_version != '', concat('template:', prompt_template_version), variant) AS key_variant,
	duration_ms, ttft_ms, input_tokens, output_tokens, cost_usd, prompt_chars, completion_chars,
	completion_toxicity, hallucination, prompt_injection, refusal, pii_kinds, error_type, is_error,
	user_id, conversation_id, prompt_template_id, prompt_template_version`

// callListColumns are callSummaryColumns as the explorer reads them: the
// columns it does not show (environment, time to first token, template
// id) are constants, since every column read costs a page its granules.
const callListColumns = `event_id, tenant, app, '' AS env, ts, ts_us, if(model = '', request_model, model) AS key_model,
	if(variant = '' AND prompt_template_version != '', concat('template:', prompt_template_version), variant) AS key_variant,
	duration_ms, CAST(NULL AS Nullable(Float64)) AS ttft, input_tokens, output_tokens, cost_usd, prompt_chars, completion_chars,
	completion_toxicity, hallucination, prompt_injection, refusal, pii_kinds, error_type, is_error,
	user_id, conversation_id, '' AS template_id, prompt_template_version`

// The optional conditions of ListCallsStmt, in the order they are added
// (the golden file carries all of them).
const (
	condModel        = "(model = ? OR (model = '' AND request_model = ?))"
	condVariant      = "variant = ?"
	condTemplateKey  = "(variant = '' AND prompt_template_version = ?)"
	condEnvironment  = "environment = ?"
	condToxicity     = "completion_toxicity >= ?"
	condHallucinated = "hallucination >= ?"
	condInjection    = "prompt_injection >= ?"
	condRefusal      = "refusal = 1"
	condError        = "is_error = 1"
	condAnyPII       = "notEmpty(pii_kinds)"
	condPII          = "has(pii_kinds, ?)"
	condTemplate     = "prompt_template_id = ?"
	condTemplateVer  = "prompt_template_version = ?"
	condUser         = "user_id = ?"
	condConversation = "conversation_id = ?"
	condSegment      = "has(segment_keys, ?) AND segment_values[indexOf(segment_keys, ?)] = ?"
)

// callConds are the explorer's conditions; with the cursor's exact
// keyset, or (for CallBoundStmt) only the sort values before it.
func callConds(q CallQuery, exactCursor bool) ([]string, []any) {
	cmp := "<"
	if q.Ascending {
		cmp = ">"
	}
	conds := []string{"ts >= toDateTime(?)", "ts < toDateTime(?)"}
	args := []any{q.Scope.From.Unix(), q.Scope.To.Unix()}
	add := func(c string, a ...any) {
		conds = append(conds, c)
		args = append(args, a...)
	}
	if q.Scope.Tenant != "" {
		add("tenant = ?", q.Scope.Tenant)
	}
	if q.Scope.App != "" {
		add("app = ?", q.Scope.App)
	}
	if q.Scope.Model != "" {
		add(condModel, q.Scope.Model, q.Scope.Model)
	}
	if v := q.Scope.Variant; v != "" {
		if ver, ok := strings.CutPrefix(v, "template:"); ok {
			add(condTemplateKey, ver)
		} else {
			add(condVariant, v)
		}
	}
	if q.Environment != "" {
		add(condEnvironment, q.Environment)
	}
	if q.MinToxicity != nil {
		add(condToxicity, *q.MinToxicity)
	}
	if q.MinHallucination != nil {
		add(condHallucinated, *q.MinHallucination)
	}
	if q.MinInjection != nil {
		add(condInjection, *q.MinInjection)
	}
	if q.Refusal {
		add(condRefusal)
	}
	if q.Error {
		add(condError)
	}
	switch q.PII {
	case "":
	case "any":
		add(condAnyPII)
	default:
		add(condPII, q.PII)
	}
	if q.Template != "" {
		add(condTemplate, q.Template)
	}
	if q.TemplateVersion != "" {
		add(condTemplateVer, q.TemplateVersion)
	}
	if q.User != "" {
		add(condUser, q.User)
	}
	if q.Conversation != "" {
		add(condConversation, q.Conversation)
	}
	if q.SegmentKey != "" {
		add(condSegment, q.SegmentKey, q.SegmentKey, q.SegmentValue)
	}
	switch {
	case q.After != nil && exactCursor:
		add("(sort_value "+cmp+" ? OR (sort_value = ? AND event_id "+cmp+" ?))", q.After.Value, q.After.Value, q.After.EventID)
	case q.After != nil:
		add("sort_value "+cmp+" ?", q.After.Value)
	}
	if q.Bound != nil && exactCursor {
		if q.Ascending {
			add("sort_value <= ?", *q.Bound)
		} else {
			add("sort_value >= ?", *q.Bound)
		}
	}
	return conds, args
}

func (q CallQuery) sortExpr() (CallQuery, string, string) {
	expr, ok := sortExprs[q.Sort]
	if !ok {
		q.Sort, expr = SortTime, sortExprs[SortTime]
	}
	dir := "DESC"
	if q.Ascending {
		dir = "ASC"
	}
	return q, expr, dir
}

// ListCallsStmt builds one page of the calls explorer: Limit+1 rows (one
// more tells whether a next page exists). Model and variant match the way
// signals key a call (aggregate.KeyOf): the requested model when the
// response named none, "template:<version>" when no variant was set.
// Every condition is a PREWHERE: ClickHouse reads the displayed columns
// only for the granules holding a matching call.
func ListCallsStmt(q CallQuery) ConsoleStmt {
	q, expr, dir := q.sortExpr()
	conds, args := callConds(q, true)
	args = append(args, q.Limit+1)
	return ConsoleStmt{Name: "list_calls_" + string(q.Sort) + "_" + strings.ToLower(dir), SQL: `SELECT ` + callListColumns + `,
	` + expr + ` AS sort_value
FROM llm_events
PREWHERE ` + and(conds) + `
ORDER BY sort_value ` + dir + `, event_id ` + dir + `
LIMIT ?`, Args: args}
}

// CallBoundStmt finds, from the sort value alone (no event id, no
// displayed column), how many calls come after the cursor (at most
// Limit+1) and the sort value of the last of them: the bound of the page
// that ListCallsStmt then reads.
func CallBoundStmt(q CallQuery) ConsoleStmt {
	q, expr, dir := q.sortExpr()
	q.Bound = nil
	conds, args := callConds(q, false)
	agg := "min"
	if q.Ascending {
		agg = "max"
	}
	args = append(args, q.Limit+1)
	return ConsoleStmt{Name: "list_calls_bound_" + string(q.Sort) + "_" + strings.ToLower(dir), SQL: `SELECT count(), ` + agg + `(sort_value) FROM (
	SELECT ` + expr + ` AS sort_value
	FROM llm_events
	PREWHERE ` + and(conds) + `
	ORDER BY sort_value ` + dir + `
	LIMIT ?
)`, Args: args}
}

// ListCalls runs the explorer's page and returns it (copies dropped) and
// whether more calls follow. Sorted by time, it reads a narrow slice of
// the range first (the newest minutes; the oldest when ascending) and
// widens it eightfold until the page is full: call time is what the
// table's event ids follow, so a slice costs its own granules. Other sorts
// find the page's bound first (CallBoundStmt).
func ListCalls(ctx context.Context, conn driver.Conn, q CallQuery) ([]CallSummary, bool, error) {
	if _, ok := sortExprs[q.Sort]; !ok {
		q.Sort = SortTime
	}
	if q.Sort != SortTime {
		st := CallBoundStmt(q)
		var n uint64
		var bound float64
		if err := conn.QueryRow(ctx, st.SQL, st.Args...).Scan(&n, &bound); err != nil {
			return nil, false, fmt.Errorf("cannot list calls from llm_events: %w", err)
		}
		if n > uint64(q.Limit) {
			q.Bound = &bound
		}
		return listCalls(ctx, conn, q)
	}
	from, to := q.Scope.From, q.Scope.To
	if q.After != nil {
		at := time.Unix(int64(q.After.Value/1e6), 0)
		if q.Ascending && at.After(from) {
			from = at
		} else if !q.Ascending && at.Add(time.Second).Before(to) {
			to = at.Add(time.Second)
		}
	}
	slice := max(5*time.Minute, to.Sub(from)/64)
	for {
		nq := q
		nq.Scope.From, nq.Scope.To = from, to
		full := true
		if to.Sub(from) > slice {
			full = false
			if q.Ascending {
				nq.Scope.To = from.Add(slice)
			} else {
				nq.Scope.From = to.Add(-slice)
			}
		}
		calls, more, raw, err := listCallsRaw(ctx, conn, nq)
		if err != nil || full || raw > q.Limit {
			return calls, more, err
		}
		slice *= 8
	}
}

func listCalls(ctx context.Context, conn driver.Conn, q CallQuery) ([]CallSummary, bool, error) {
	calls, more, _, err := listCallsRaw(ctx, conn, q)
	return calls, more, err
}

func listCallsRaw(ctx context.Context, conn driver.Conn, q CallQuery) ([]CallSummary, bool, int, error) {
	st := ListCallsStmt(q)
	rows, err := conn.Query(ctx, st.SQL, st.Args...)
	if err != nil {
		return nil, false, 0, fmt.Errorf("cannot list calls from llm_events: %w", err)
	}
	defer rows.Close()
	var out []CallSummary
	raw := 0
	for rows.Next() {
		c, err := scanCallSummary(rows)
		if err != nil {
			return nil, false, 0, err
		}
		raw++
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, false, 0, fmt.Errorf("cannot list calls from llm_events: %w", err)
	}
	out = DedupCalls(out)
	more := raw > q.Limit
	if len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, more, raw, nil
}

func scanCallSummary(rows driver.Rows) (CallSummary, error) {
	var c CallSummary
	var tsUS uint32
	var refusal, isErr uint8
	if err := rows.Scan(&c.EventID, &c.Tenant, &c.App, &c.Environment, &c.TS, &tsUS, &c.Model, &c.Variant, &c.DurationMS, &c.TTFTMS,
		&c.InputTokens, &c.OutputTokens, &c.CostUSD, &c.PromptChars, &c.CompletionChars, &c.CompletionToxicity, &c.Hallucination,
		&c.PromptInjection, &refusal, &c.PIIKinds, &c.ErrorType, &isErr, &c.UserID, &c.ConversationID, &c.TemplateID,
		&c.TemplateVersion, &c.SortValue); err != nil {
		return c, fmt.Errorf("cannot read llm_events: %w", err)
	}
	c.TS = c.TS.Add(time.Duration(tsUS) * time.Microsecond).UTC()
	c.Refusal, c.IsError = refusal == 1, isErr == 1
	return c, nil
}

// DedupCalls drops the copies of a call that a replay left in llm_events
// (rows are sorted by a value the copies share and then by event id, so
// copies are neighbours).
func DedupCalls(in []CallSummary) []CallSummary {
	out := in[:0]
	for i, c := range in {
		if i > 0 && c.EventID == in[i-1].EventID && c.Tenant == in[i-1].Tenant && c.App == in[i-1].App {
			continue
		}
		out = append(out, c)
	}
	return out
}

// CallDetail is one call with its content, scores and evidence.
type CallDetail struct {
	CallSummary
	Provider, Operation, RequestModel, ResponseModel string
	PromptRoles, PromptContents                      []string
	CompletionRoles, CompletionContents              []string
	FinishReasons                                    []string
	Context                                          []string
	Reference                                        string
	ErrorMessage                                     string
	TraceID, SpanID                                  string
	SegmentKeys, SegmentValues                       []string
	AttributeKeys, AttributeValues                   []string
	SDKName, SDKVersion, ResponseID                  string
	Truncated                                        bool
	TotalTokens                                      int64
	PromptToxicity                                   *float32
	ToxicityEvidence                                 []string
	Grounding                                        *float32
	UnsupportedSpans                                 []string
	RougeL, BLEU, TokenF1, ExactMatch                *float32
	InjectionEvidence                                []string
	RefusalConfidence                                *float32
	DetectorErrors                                   []string
	IngestedAt                                       time.Time
}

const callDetailColumns = callSummaryColumns + `, toFloat64(0) AS sort_value,
	provider, operation, request_model, model, prompt_roles, prompt_contents, completion_roles, completion_contents, finish_reasons,
	context, reference, error_message, trace_id, span_id, segment_keys, segment_values, attribute_keys, attribute_values,
	sdk_name, sdk_version, response_id, truncated, total_tokens, prompt_toxicity, toxicity_evidence, grounding, unsupported_spans,
	rouge_l, bleu, token_f1, exact_match, injection_evidence, refusal_confidence, detector_errors, ingested_at`

// GetCallStmt reads one call by id; with tenant and app (the table's
// primary key prefix, which the explorer's links carry) it reads a few
// granules, without them it scans the event ids. The newest copy wins. A
// tenant without an app (a read key's tenant) is still a condition: a key
// of one tenant never reads another's call by its id.
func GetCallStmt(tenant, app, id string) ConsoleStmt {
	if tenant != "" && app == "" {
		return ConsoleStmt{Name: "get_call_of_tenant", SQL: `SELECT ` + callDetailColumns + `
FROM llm_events
WHERE tenant = ? AND event_id = ?
ORDER BY ingested_at DESC
LIMIT 1`, Args: []any{tenant, id}}
	}
	if tenant == "" || app == "" {
		return ConsoleStmt{Name: "get_call_by_id", SQL: `SELECT ` + callDetailColumns + `
FROM llm_events
WHERE event_id = ?
ORDER BY ingested_at DESC
LIMIT 1`, Args: []any{id}}
	}
	return ConsoleStmt{Name: "get_call", SQL: `SELECT ` + callDetailColumns + `
FROM llm_events
WHERE tenant = ? AND app = ? AND event_id = ?
ORDER BY ingested_at DESC
LIMIT 1`, Args: []any{tenant, app, id}}
}

// GetCall runs GetCallStmt; a call that is not stored is (nil, nil).
func GetCall(ctx context.Context, conn driver.Conn, tenant, app, id string) (*CallDetail, error) {
	st := GetCallStmt(tenant, app, id)
	rows, err := conn.Query(ctx, st.SQL, st.Args...)
	if err != nil {
		return nil, fmt.Errorf("cannot read the call from llm_events: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, rows.Err()
	}
	var d CallDetail
	c := &d.CallSummary
	var tsUS uint32
	var refusal, isErr, truncated uint8
	if err := rows.Scan(&c.EventID, &c.Tenant, &c.App, &c.Environment, &c.TS, &tsUS, &c.Model, &c.Variant, &c.DurationMS, &c.TTFTMS,
		&c.InputTokens, &c.OutputTokens, &c.CostUSD, &c.PromptChars, &c.CompletionChars, &c.CompletionToxicity, &c.Hallucination,
		&c.PromptInjection, &refusal, &c.PIIKinds, &c.ErrorType, &isErr, &c.UserID, &c.ConversationID, &c.TemplateID,
		&c.TemplateVersion, &c.SortValue,
		&d.Provider, &d.Operation, &d.RequestModel, &d.ResponseModel, &d.PromptRoles, &d.PromptContents, &d.CompletionRoles,
		&d.CompletionContents, &d.FinishReasons, &d.Context, &d.Reference, &d.ErrorMessage, &d.TraceID, &d.SpanID, &d.SegmentKeys,
		&d.SegmentValues, &d.AttributeKeys, &d.AttributeValues, &d.SDKName, &d.SDKVersion, &d.ResponseID, &truncated, &d.TotalTokens,
		&d.PromptToxicity, &d.ToxicityEvidence, &d.Grounding, &d.UnsupportedSpans, &d.RougeL, &d.BLEU, &d.TokenF1, &d.ExactMatch,
		&d.InjectionEvidence, &d.RefusalConfidence, &d.DetectorErrors, &d.IngestedAt); err != nil {
		return nil, fmt.Errorf("cannot read the call from llm_events: %w", err)
	}
	c.TS = c.TS.Add(time.Duration(tsUS) * time.Microsecond).UTC()
	c.Refusal, c.IsError, d.Truncated = refusal == 1, isErr == 1, truncated == 1
	d.IngestedAt = d.IngestedAt.UTC()
	return &d, rows.Err()
}

// ConversationCallsStmt lists the calls of a conversation of one app
// within six hours of a call (conversation ids are reused by clients; the
// bound keeps the read to the app's granules of half a day), oldest
// first.
func ConversationCallsStmt(tenant, app, conversation string, around time.Time, limit int) ConsoleStmt {
	return ConsoleStmt{Name: "conversation_calls", SQL: `SELECT ` + callSummaryColumns + `,
	toFloat64(toUInt64(ts) * 1000000 + ts_us) AS sort_value
FROM llm_events
PREWHERE tenant = ? AND app = ? AND conversation_id = ? AND ts >= toDateTime(?) AND ts < toDateTime(?)
ORDER BY sort_value, event_id
LIMIT ?`, Args: []any{tenant, app, conversation, around.Add(-6 * time.Hour).Unix(), around.Add(6 * time.Hour).Unix(), limit}}
}

// ConversationCalls runs ConversationCallsStmt.
func ConversationCalls(ctx context.Context, conn driver.Conn, tenant, app, conversation string, around time.Time, limit int) ([]CallSummary, error) {
	st := ConversationCallsStmt(tenant, app, conversation, around, limit)
	rows, err := conn.Query(ctx, st.SQL, st.Args...)
	if err != nil {
		return nil, fmt.Errorf("cannot read the conversation from llm_events: %w", err)
	}
	defer rows.Close()
	var out []CallSummary
	for rows.Next() {
		c, err := scanCallSummary(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return DedupCalls(out), rows.Err()
}

// Feedback is a user's score of a call (llm_feedback).
type Feedback struct {
	EventID string
	TS      time.Time
	Score   float64
	Label   string
	Comment string
}

// CallFeedbackStmt reads the feedback on one call.
func CallFeedbackStmt(tenant, id string, limit int) ConsoleStmt {
	return ConsoleStmt{Name: "call_feedback", SQL: `SELECT event_id, ts, score, label, comment
FROM llm_feedback FINAL
WHERE tenant = ? AND target_event_id = ?
ORDER BY ts, event_id
LIMIT ?`, Args: []any{tenant, id, limit}}
}

// CallFeedback runs CallFeedbackStmt.
func CallFeedback(ctx context.Context, conn driver.Conn, tenant, id string, limit int) ([]Feedback, error) {
	st := CallFeedbackStmt(tenant, id, limit)
	rows, err := conn.Query(ctx, st.SQL, st.Args...)
	if err != nil {
		return nil, fmt.Errorf("cannot read llm_feedback: %w", err)
	}
	defer rows.Close()
	var out []Feedback
	for rows.Next() {
		var f Feedback
		if err := rows.Scan(&f.EventID, &f.TS, &f.Score, &f.Label, &f.Comment); err != nil {
			return nil, fmt.Errorf("cannot read llm_feedback: %w", err)
		}
		f.TS = f.TS.UTC()
		out = append(out, f)
	}
	return out, rows.Err()
}

// Verdict is a judge's verdict on a call (llm_evaluations).
type Verdict struct {
	JobID, JudgeModel     string
	Valid                 bool
	Error                 string
	Toxic                 bool
	ToxicityScore         float32
	Hallucinated          *uint8
	HallucinationScore    *float32
	UnsupportedClaims     []string
	Biased                bool
	BiasExplanation       string
	DetectorToxicity      *float32
	DetectorHallucination *float32
	TS                    time.Time
}

// CallVerdictsStmt reads the judge verdicts on one call, newest first.
func CallVerdictsStmt(tenant, id string, limit int) ConsoleStmt {
	return ConsoleStmt{Name: "call_verdicts", SQL: `SELECT job_id, judge_model, valid, error, toxic, toxicity_score, hallucinated, hallucination_score,
	unsupported_claims, biased, bias_explanation, detector_toxicity, detector_hallucination, ts
FROM llm_evaluations FINAL
WHERE tenant = ? AND event_id = ?
ORDER BY ts DESC, job_id
LIMIT ?`, Args: []any{tenant, id, limit}}
}

// CallVerdicts runs CallVerdictsStmt.
func CallVerdicts(ctx context.Context, conn driver.Conn, tenant, id string, limit int) ([]Verdict, error) {
	st := CallVerdictsStmt(tenant, id, limit)
	rows, err := conn.Query(ctx, st.SQL, st.Args...)
	if err != nil {
		return nil, fmt.Errorf("cannot read llm_evaluations: %w", err)
	}
	defer rows.Close()
	var out []Verdict
	for rows.Next() {
		var v Verdict
		var valid, toxic, biased uint8
		if err := rows.Scan(&v.JobID, &v.JudgeModel, &valid, &v.Error, &toxic, &v.ToxicityScore, &v.Hallucinated, &v.HallucinationScore,
			&v.UnsupportedClaims, &biased, &v.BiasExplanation, &v.DetectorToxicity, &v.DetectorHallucination, &v.TS); err != nil {
			return nil, fmt.Errorf("cannot read llm_evaluations: %w", err)
		}
		v.Valid, v.Toxic, v.Biased, v.TS = valid == 1, toxic == 1, biased == 1, v.TS.UTC()
		out = append(out, v)
	}
	return out, rows.Err()
}
