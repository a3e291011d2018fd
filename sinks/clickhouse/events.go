package clickhouse

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sightline-dev/sightline/processors/detector"
	"github.com/sightline-dev/sightline/processors/features"
	"github.com/sightline-dev/sightline/schemas/eventpb"
)

// EventRow is one scored event ready for llm_events.
type EventRow struct {
	Event    *eventpb.Event
	Features features.Features
	Scores   detector.Scores
	// DetectorErrors names the detectors that failed on this event (their
	// scores are NULL).
	DetectorErrors []string
	Partition      int32
	Offset         int64
}

// EventColumns is the explicit column list of every llm_events insert.
var EventColumns = []string{
	"event_id", "tenant", "app", "environment", "ts", "ts_us", "duration_ms", "ttft_ms",
	"provider", "operation", "request_model", "model",
	"prompt_roles", "prompt_contents", "completion_roles", "completion_contents", "finish_reasons",
	"input_tokens", "output_tokens", "cost_usd", "error_type", "error_message",
	"trace_id", "span_id", "conversation_id", "user_id", "prompt_template_id", "prompt_template_version",
	"variant", "context", "reference", "segment_keys", "segment_values", "attribute_keys", "attribute_values",
	"embedding", "sdk_name", "sdk_version", "response_id", "truncated",
	"prompt_chars", "completion_chars", "context_chars", "prompt_messages", "completion_messages", "context_items",
	"total_tokens", "output_tokens_per_second", "has_context", "has_reference", "is_error",
	"kafka_partition", "kafka_offset", "ingested_at",
	"completion_toxicity", "prompt_toxicity", "toxicity_evidence", "hallucination", "grounding", "unsupported_spans",
	"rouge_l", "bleu", "token_f1", "exact_match", "pii_kinds", "prompt_injection", "injection_evidence",
	"refusal", "refusal_confidence", "detector_errors",
}

var insertEvents = InsertStmt("llm_events", EventColumns)

// InsertStmt is the INSERT statement of a batch into table with an explicit
// column list, which old servers need (see DESIGN).
func InsertStmt(table string, cols []string) string {
	return "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ")"
}

// InsertEvents writes rows to llm_events in one batch (one attempt).
func InsertEvents(ctx context.Context, conn driver.Conn, rows []EventRow) error {
	if len(rows) == 0 {
		return nil
	}
	b, err := conn.PrepareBatch(ctx, insertEvents)
	if err != nil {
		return fmt.Errorf("cannot prepare llm_events insert: %w", err)
	}
	now := time.Now().UTC()
	for i := range rows {
		if err := appendEvent(b, &rows[i], now); err != nil {
			_ = b.Abort()
			return fmt.Errorf("cannot append to llm_events batch: %w", err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("cannot insert %d rows into llm_events: %w", len(rows), err)
	}
	return nil
}

func opt(o detector.Opt) *float32 {
	if !o.Valid {
		return nil
	}
	v := float32(o.Value)
	return &v
}

func strs(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

func kv(m map[string]string) (keys, vals []string) {
	if len(m) == 0 {
		return []string{}, []string{}
	}
	keys = make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	vals = make([]string, len(keys))
	for i, k := range keys {
		vals[i] = m[k]
	}
	return keys, vals
}

func appendEvent(b driver.Batch, r *EventRow, now time.Time) error {
	ev := r.Event
	ts := ev.GetTs().AsTime().UTC()
	n := len(ev.GetPrompt())
	pr, pc := make([]string, n), make([]string, n)
	for i, m := range ev.GetPrompt() {
		pr[i], pc[i] = m.GetRole(), m.GetContent()
	}
	n = len(ev.GetCompletion())
	cr, cc, fr := make([]string, n), make([]string, n), make([]string, n)
	for i, m := range ev.GetCompletion() {
		cr[i], cc[i], fr[i] = m.GetRole(), m.GetContent(), m.GetFinishReason()
	}
	sk, sv := kv(ev.GetSegments())
	ak, av := kv(ev.GetAttributes())
	ctxs := ev.GetContext()
	if ctxs == nil {
		ctxs = []string{}
	}
	emb := ev.GetEmbedding()
	if emb == nil {
		emb = []float32{}
	}
	f := &r.Features
	sc := &r.Scores
	return b.Append(
		ev.GetEventId(), ev.GetTenant(), ev.GetApp(), ev.GetEnvironment(), ts, uint32(ts.Nanosecond()/1000),
		ev.GetDurationMs(), ev.TtftMs,
		ev.GetProvider(), ev.GetOperation(), ev.GetRequestModel(), ev.GetModel(),
		pr, pc, cr, cc, fr,
		ev.GetInputTokens(), ev.GetOutputTokens(), ev.GetCostUsd(), ev.GetError().GetType(), ev.GetError().GetMessage(),
		ev.GetTraceId(), ev.GetSpanId(), ev.GetConversationId(), ev.GetUserId(),
		ev.GetPromptTemplate().GetId(), ev.GetPromptTemplate().GetVersion(),
		ev.GetVariant(), ctxs, ev.GetReference(), sk, sv, ak, av,
		emb, ev.GetSdk().GetName(), ev.GetSdk().GetVersion(), ev.GetResponseId(), b2u(ev.GetTruncated()),
		f.PromptChars, f.CompletionChars, f.ContextChars, f.PromptMessages, f.CompletionMessages, f.ContextItems,
		f.TotalTokens, f.OutputTokensPerSecond, b2u(f.HasContext), b2u(f.HasReference), b2u(f.IsError),
		r.Partition, r.Offset, now,
		opt(sc.CompletionToxicity), opt(sc.PromptToxicity), strs(sc.ToxicityEvidence), opt(sc.Hallucination), opt(sc.Grounding), strs(sc.UnsupportedSpans),
		opt(sc.RougeL), opt(sc.BLEU), opt(sc.TokenF1), opt(sc.ExactMatch), strs(sc.PIIKinds), opt(sc.PromptInjection), strs(sc.InjectionEvidence),
		b2u(sc.Refusal), opt(sc.RefusalConfidence), strs(r.DetectorErrors),
	)
}

// FeedbackColumns is the explicit column list of llm_feedback inserts.
var FeedbackColumns = []string{"event_id", "target_event_id", "tenant", "app", "ts", "score", "label", "comment", "ingested_at"}

var insertFeedback = InsertStmt("llm_feedback", FeedbackColumns)

// InsertFeedback writes feedback events to llm_feedback in one batch.
func InsertFeedback(ctx context.Context, conn driver.Conn, evs []*eventpb.Event) error {
	if len(evs) == 0 {
		return nil
	}
	b, err := conn.PrepareBatch(ctx, insertFeedback)
	if err != nil {
		return fmt.Errorf("cannot prepare llm_feedback insert: %w", err)
	}
	now := time.Now().UTC()
	for _, ev := range evs {
		fb := ev.GetFeedback()
		if err := b.Append(ev.GetEventId(), fb.GetEventId(), ev.GetTenant(), ev.GetApp(), ev.GetTs().AsTime().UTC(),
			fb.GetScore(), fb.GetLabel(), fb.GetComment(), now); err != nil {
			_ = b.Abort()
			return fmt.Errorf("cannot append to llm_feedback batch: %w", err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("cannot insert %d rows into llm_feedback: %w", len(evs), err)
	}
	return nil
}
