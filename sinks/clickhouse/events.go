package clickhouse

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sightline-dev/sightline/processors/detectors"
	"github.com/sightline-dev/sightline/processors/eventfeatures"
	"github.com/sightline-dev/sightline/schemas/eventpb"
)

// EventRow is one scored event ready for llm_events.
type EventRow struct {
	Event    *eventpb.Event
	Features eventfeatures.Features
	Scores   detectors.Scores
	// DetectorErrors names the detectors that failed on this event (their
	// scores are NULL).
	DetectorErrors []string
	Partition      int32
	Offset         int64

	ingestedAt time.Time // set by InsertEvents
}

// eventColumns are llm_events' columns that do not come from detectors,
// in insert order; each detector output adds its own after them
// (EventsTable), then detector_errors.
var eventColumns = []Column[EventRow]{
	Col("event_id", func(r *EventRow) any { return r.Event.GetEventId() }),
	Col("tenant", func(r *EventRow) any { return r.Event.GetTenant() }),
	Col("app", func(r *EventRow) any { return r.Event.GetApp() }),
	Col("environment", func(r *EventRow) any { return r.Event.GetEnvironment() }),
	Col("ts", func(r *EventRow) any { return r.Event.GetTs().AsTime().UTC() }),
	Col("ts_us", func(r *EventRow) any { return uint32(r.Event.GetTs().AsTime().Nanosecond() / 1000) }),
	Col("duration_ms", func(r *EventRow) any { return r.Event.GetDurationMs() }),
	Col("ttft_ms", func(r *EventRow) any { return r.Event.TtftMs }),
	Col("provider", func(r *EventRow) any { return r.Event.GetProvider() }),
	Col("operation", func(r *EventRow) any { return r.Event.GetOperation() }),
	Col("request_model", func(r *EventRow) any { return r.Event.GetRequestModel() }),
	Col("model", func(r *EventRow) any { return r.Event.GetModel() }),
	Col("prompt_roles", func(r *EventRow) any { return messageField(r.Event.GetPrompt(), (*eventpb.Message).GetRole) }),
	Col("prompt_contents", func(r *EventRow) any { return messageField(r.Event.GetPrompt(), (*eventpb.Message).GetContent) }),
	Col("completion_roles", func(r *EventRow) any { return messageField(r.Event.GetCompletion(), (*eventpb.Message).GetRole) }),
	Col("completion_contents", func(r *EventRow) any { return messageField(r.Event.GetCompletion(), (*eventpb.Message).GetContent) }),
	Col("finish_reasons", func(r *EventRow) any {
		return messageField(r.Event.GetCompletion(), (*eventpb.Message).GetFinishReason)
	}),
	Col("input_tokens", func(r *EventRow) any { return r.Event.GetInputTokens() }),
	Col("output_tokens", func(r *EventRow) any { return r.Event.GetOutputTokens() }),
	Col("cost_usd", func(r *EventRow) any { return r.Event.GetCostUsd() }),
	Col("error_type", func(r *EventRow) any { return r.Event.GetError().GetType() }),
	Col("error_message", func(r *EventRow) any { return r.Event.GetError().GetMessage() }),
	Col("trace_id", func(r *EventRow) any { return r.Event.GetTraceId() }),
	Col("span_id", func(r *EventRow) any { return r.Event.GetSpanId() }),
	Col("conversation_id", func(r *EventRow) any { return r.Event.GetConversationId() }),
	Col("user_id", func(r *EventRow) any { return r.Event.GetUserId() }),
	Col("prompt_template_id", func(r *EventRow) any { return r.Event.GetPromptTemplate().GetId() }),
	Col("prompt_template_version", func(r *EventRow) any { return r.Event.GetPromptTemplate().GetVersion() }),
	Col("variant", func(r *EventRow) any { return r.Event.GetVariant() }),
	Col("context", func(r *EventRow) any { return strs(r.Event.GetContext()) }),
	Col("reference", func(r *EventRow) any { return r.Event.GetReference() }),
	Col("segment_keys", func(r *EventRow) any { return keys(r.Event.GetSegments()) }),
	Col("segment_values", func(r *EventRow) any { return values(r.Event.GetSegments()) }),
	Col("attribute_keys", func(r *EventRow) any { return keys(r.Event.GetAttributes()) }),
	Col("attribute_values", func(r *EventRow) any { return values(r.Event.GetAttributes()) }),
	Col("embedding", func(r *EventRow) any {
		if e := r.Event.GetEmbedding(); e != nil {
			return e
		}
		return []float32{}
	}),
	Col("sdk_name", func(r *EventRow) any { return r.Event.GetSdk().GetName() }),
	Col("sdk_version", func(r *EventRow) any { return r.Event.GetSdk().GetVersion() }),
	Col("response_id", func(r *EventRow) any { return r.Event.GetResponseId() }),
	Col("truncated", func(r *EventRow) any { return b2u(r.Event.GetTruncated()) }),
	Col("prompt_chars", func(r *EventRow) any { return r.Features.PromptChars }),
	Col("completion_chars", func(r *EventRow) any { return r.Features.CompletionChars }),
	Col("context_chars", func(r *EventRow) any { return r.Features.ContextChars }),
	Col("prompt_messages", func(r *EventRow) any { return r.Features.PromptMessages }),
	Col("completion_messages", func(r *EventRow) any { return r.Features.CompletionMessages }),
	Col("context_items", func(r *EventRow) any { return r.Features.ContextItems }),
	Col("total_tokens", func(r *EventRow) any { return r.Features.TotalTokens }),
	Col("output_tokens_per_second", func(r *EventRow) any { return r.Features.OutputTokensPerSecond }),
	Col("has_context", func(r *EventRow) any { return b2u(r.Features.HasContext) }),
	Col("has_reference", func(r *EventRow) any { return b2u(r.Features.HasReference) }),
	Col("is_error", func(r *EventRow) any { return b2u(r.Features.IsError) }),
	Col("kafka_partition", func(r *EventRow) any { return r.Partition }),
	Col("kafka_offset", func(r *EventRow) any { return r.Offset }),
	Col("ingested_at", func(r *EventRow) any { return r.ingestedAt }),
}

var detectorErrorsColumn = Col("detector_errors", func(r *EventRow) any { return strs(r.DetectorErrors) })

// outputColumn is the column of output i of a schema: the output's name,
// its value by kind (ColumnType). Rows scored with that schema fill it;
// rows without scores leave it NULL (or empty).
func outputColumn(o *detectors.Output, i int) Column[EventRow] {
	value := func(r *EventRow) *detectors.Value {
		if i < len(r.Scores.Values) {
			return &r.Scores.Values[i]
		}
		return &detectors.Value{}
	}
	switch o.Kind {
	case detectors.Probability, detectors.Metric:
		return Col(o.Name, func(r *EventRow) any {
			v := value(r)
			if !v.Valid {
				return (*float32)(nil)
			}
			f := float32(v.Num)
			return &f
		})
	case detectors.Flag:
		return Col(o.Name, func(r *EventRow) any { v := value(r); return b2u(v.Valid && v.Num != 0) })
	default:
		return Col(o.Name, func(r *EventRow) any { return strs(value(r).List) })
	}
}

var eventTables sync.Map // schemaKey -> *Table[EventRow]

// schemaKey identifies a schema by its outputs' names and kinds: equal
// schemas share one table whatever scorer made them.
func schemaKey(schema *detectors.Schema) string {
	var b strings.Builder
	for i := 0; i < schema.Len(); i++ {
		o := schema.Output(i)
		b.WriteString(o.Name)
		b.WriteByte(byte('0' + o.Kind))
	}
	return b.String()
}

// EventsTable is the llm_events insert of rows scored with schema: the
// event's columns, one column per detector output (named as the output;
// a migration adds it, see detectors.Kind.ColumnType) and detector_errors.
// Detectors that are not in the schema (disabled) are left out of the
// column list, so their columns take their defaults (NULL, [], 0).
func EventsTable(schema *detectors.Schema) *Table[EventRow] {
	key := schemaKey(schema)
	if t, ok := eventTables.Load(key); ok {
		return t.(*Table[EventRow])
	}
	cols := append([]Column[EventRow](nil), eventColumns...)
	for i := 0; i < schema.Len(); i++ {
		cols = append(cols, outputColumn(schema.Output(i), i))
	}
	cols = append(cols, detectorErrorsColumn)
	t, _ := eventTables.LoadOrStore(key, NewTable("llm_events", cols...))
	return t.(*Table[EventRow])
}

// InsertStmt is the INSERT statement of a batch into table with an explicit
// column list, which old servers need (see DESIGN).
func InsertStmt(table string, cols []string) string {
	return "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ")"
}

// InsertEvents writes rows to llm_events (one attempt): one batch for the
// rows scored with one schema (a stage's rows) and those without scores;
// rows scored with other schemas go in batches of their own.
func InsertEvents(ctx context.Context, conn driver.Conn, rows []EventRow) error {
	now := time.Now().UTC()
	for i := range rows {
		rows[i].ingestedAt = now
	}
	for len(rows) > 0 {
		var schema *detectors.Schema
		for i := range rows {
			if rows[i].Scores.Schema.Len() > 0 {
				schema = rows[i].Scores.Schema
				break
			}
		}
		key := schemaKey(schema)
		batch, rest := rows, []EventRow(nil)
		for i := range rows {
			if s := rows[i].Scores.Schema; s.Len() > 0 && s != schema && schemaKey(s) != key {
				batch, rest = nil, nil
				for j := range rows {
					if s := rows[j].Scores.Schema; s.Len() == 0 || s == schema || schemaKey(s) == key {
						batch = append(batch, rows[j])
					} else {
						rest = append(rest, rows[j])
					}
				}
				break
			}
		}
		if err := EventsTable(schema).Insert(ctx, conn, batch); err != nil {
			return err
		}
		rows = rest
	}
	return nil
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

func messageField(msgs []*eventpb.Message, f func(*eventpb.Message) string) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = f(m)
	}
	return out
}

// keys and values are a map's entries sorted by key (Nested columns).
func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func values(m map[string]string) []string {
	ks := keys(m)
	for i, k := range ks {
		ks[i] = m[k]
	}
	return ks
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
