package schemas

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sightline-dev/sightline/schemas/eventpb"
)

// EventJSONSchema is the JSON Schema (draft 2020-12) of the JSON form,
// event.schema.json in this folder; sightline up serves it at
// GET /v1/schema.
//
//go:embed event.schema.json
var EventJSONSchema []byte

// JSONEvent is the JSON form of an event: the field names of the protobuf
// message, numbers as JSON numbers, ts as RFC 3339. Unknown fields are kept
// in attributes (as their JSON text, strings unquoted), never dropped.
type JSONEvent struct {
	SchemaVersion  uint32            `json:"schema_version,omitempty"`
	EventID        string            `json:"event_id,omitempty"`
	Kind           string            `json:"kind,omitempty"`
	Tenant         string            `json:"tenant,omitempty"`
	App            string            `json:"app,omitempty"`
	Environment    string            `json:"environment,omitempty"`
	TS             string            `json:"ts,omitempty"`
	DurationMS     float64           `json:"duration_ms"`
	TTFTMS         *float64          `json:"ttft_ms,omitempty"`
	Provider       string            `json:"provider,omitempty"`
	Operation      string            `json:"operation,omitempty"`
	RequestModel   string            `json:"request_model,omitempty"`
	Model          string            `json:"model,omitempty"`
	Prompt         []JSONMessage     `json:"prompt,omitempty"`
	Completion     []JSONMessage     `json:"completion,omitempty"`
	InputTokens    int64             `json:"input_tokens"`
	OutputTokens   int64             `json:"output_tokens"`
	CostUSD        float64           `json:"cost_usd"`
	Error          *JSONError        `json:"error,omitempty"`
	TraceID        string            `json:"trace_id,omitempty"`
	SpanID         string            `json:"span_id,omitempty"`
	ConversationID string            `json:"conversation_id,omitempty"`
	UserID         string            `json:"user_id,omitempty"`
	PromptTemplate *JSONTemplate     `json:"prompt_template,omitempty"`
	Variant        string            `json:"variant,omitempty"`
	Context        []string          `json:"context,omitempty"`
	Reference      string            `json:"reference,omitempty"`
	Segments       map[string]string `json:"segments,omitempty"`
	Embedding      []float32         `json:"embedding,omitempty"`
	Attributes     map[string]string `json:"attributes,omitempty"`
	SDK            *JSONSDK          `json:"sdk,omitempty"`
	Truncated      bool              `json:"truncated,omitempty"`
	ResponseID     string            `json:"response_id,omitempty"`
	Feedback       *JSONFeedback     `json:"feedback,omitempty"`
}

type JSONMessage struct {
	Role         string `json:"role"`
	Content      string `json:"content"`
	FinishReason string `json:"finish_reason,omitempty"`
}

type JSONError struct {
	Type    string `json:"type"`
	Message string `json:"message,omitempty"`
}

type JSONTemplate struct {
	ID      string `json:"id"`
	Version string `json:"version,omitempty"`
}

type JSONSDK struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
}

type JSONFeedback struct {
	EventID string  `json:"event_id,omitempty"`
	Score   float64 `json:"score"`
	Label   string  `json:"label,omitempty"`
	Comment string  `json:"comment,omitempty"`
}

var knownJSONFields = func() map[string]bool {
	m := map[string]bool{}
	for _, f := range []string{"schema_version", "event_id", "kind", "tenant", "app", "environment", "ts",
		"duration_ms", "ttft_ms", "provider", "operation", "request_model", "model", "prompt", "completion",
		"input_tokens", "output_tokens", "cost_usd", "error", "trace_id", "span_id", "conversation_id",
		"user_id", "prompt_template", "variant", "context", "reference", "segments", "embedding",
		"attributes", "sdk", "truncated", "response_id", "feedback"} {
		m[f] = true
	}
	return m
}()

// DecodeJSON parses one event in its JSON form, truncates oversized content
// and validates it. Unknown top-level fields land in attributes.
func DecodeJSON(b []byte) (*eventpb.Event, error) {
	ev, err := ParseJSON(b)
	if err != nil {
		return nil, err
	}
	Truncate(ev)
	if err := Validate(ev); err != nil {
		return nil, err
	}
	return ev, nil
}

// ParseJSON converts the JSON form to the protobuf message without
// validating it (offline tools score partial events too).
func ParseJSON(b []byte) (*eventpb.Event, error) {
	if len(b) > MaxEncodedBytes {
		return nil, &Error{Reason: ReasonTooLarge, Detail: fmt.Sprintf("document of %d bytes exceeds %d", len(b), MaxEncodedBytes)}
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, &Error{Reason: ReasonDecode, Detail: "not a JSON object: " + sanitize(jsonErr(err))}
	}
	var je JSONEvent
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&je); err != nil {
		return nil, &Error{Reason: ReasonInvalidField, Detail: sanitize(jsonErr(err))}
	}
	ev, err := je.Proto()
	if err != nil {
		return nil, err
	}
	for k, v := range raw {
		if knownJSONFields[k] {
			continue
		}
		if ev.Attributes == nil {
			ev.Attributes = map[string]string{}
		}
		if _, taken := ev.Attributes[k]; taken {
			continue
		}
		var s string
		if json.Unmarshal(v, &s) == nil {
			ev.Attributes[k] = s
		} else {
			ev.Attributes[k] = string(v)
		}
	}
	return ev, nil
}

func jsonErr(err error) string {
	// encoding/json errors quote offending values only for type errors,
	// which name the Go type and field, not the content.
	if te := (*json.UnmarshalTypeError)(nil); errors.As(err, &te) {
		return fmt.Sprintf("field %q: cannot use a JSON %s as %s", te.Field, te.Value, te.Type)
	}
	return err.Error()
}

// ParseTS accepts RFC 3339 (with or without fraction) or Unix seconds as a
// decimal string.
func ParseTS(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%q is neither RFC 3339 nor Unix seconds", CutUTF8(s, 40))
}

// Proto converts the JSON form to the protobuf message.
func (je *JSONEvent) Proto() (*eventpb.Event, error) {
	ev := &eventpb.Event{
		SchemaVersion:  je.SchemaVersion,
		EventId:        je.EventID,
		Tenant:         je.Tenant,
		App:            je.App,
		Environment:    je.Environment,
		DurationMs:     je.DurationMS,
		TtftMs:         je.TTFTMS,
		Provider:       je.Provider,
		Operation:      je.Operation,
		RequestModel:   je.RequestModel,
		Model:          je.Model,
		InputTokens:    je.InputTokens,
		OutputTokens:   je.OutputTokens,
		CostUsd:        je.CostUSD,
		TraceId:        je.TraceID,
		SpanId:         je.SpanID,
		ConversationId: je.ConversationID,
		UserId:         je.UserID,
		Variant:        je.Variant,
		Context:        je.Context,
		Reference:      je.Reference,
		Segments:       je.Segments,
		Embedding:      je.Embedding,
		Attributes:     je.Attributes,
		Truncated:      je.Truncated,
		ResponseId:     je.ResponseID,
	}
	switch je.Kind {
	case "", "call":
	case "feedback":
		ev.Kind = eventpb.Kind_KIND_FEEDBACK
	default:
		return nil, invalid("kind", "must be \"call\" or \"feedback\"")
	}
	if je.TS != "" {
		t, err := ParseTS(je.TS)
		if err != nil {
			return nil, invalid("ts", "%v", err)
		}
		ev.Ts = timestamppb.New(t)
	}
	for _, m := range je.Prompt {
		ev.Prompt = append(ev.Prompt, &eventpb.Message{Role: m.Role, Content: m.Content})
	}
	for _, m := range je.Completion {
		ev.Completion = append(ev.Completion, &eventpb.Message{Role: m.Role, Content: m.Content, FinishReason: m.FinishReason})
	}
	if je.Error != nil {
		ev.Error = &eventpb.Error{Type: je.Error.Type, Message: je.Error.Message}
	}
	if je.PromptTemplate != nil {
		ev.PromptTemplate = &eventpb.PromptTemplate{Id: je.PromptTemplate.ID, Version: je.PromptTemplate.Version}
	}
	if je.SDK != nil {
		ev.Sdk = &eventpb.SDK{Name: je.SDK.Name, Version: je.SDK.Version}
	}
	if je.Feedback != nil {
		ev.Feedback = &eventpb.Feedback{EventId: je.Feedback.EventID, Score: je.Feedback.Score, Label: je.Feedback.Label, Comment: je.Feedback.Comment}
	}
	return ev, nil
}

// ToJSON converts the protobuf message to its JSON form.
func ToJSON(ev *eventpb.Event) *JSONEvent {
	je := &JSONEvent{
		SchemaVersion:  ev.GetSchemaVersion(),
		EventID:        ev.GetEventId(),
		Tenant:         ev.GetTenant(),
		App:            ev.GetApp(),
		Environment:    ev.GetEnvironment(),
		DurationMS:     ev.GetDurationMs(),
		TTFTMS:         ev.TtftMs,
		Provider:       ev.GetProvider(),
		Operation:      ev.GetOperation(),
		RequestModel:   ev.GetRequestModel(),
		Model:          ev.GetModel(),
		InputTokens:    ev.GetInputTokens(),
		OutputTokens:   ev.GetOutputTokens(),
		CostUSD:        ev.GetCostUsd(),
		TraceID:        ev.GetTraceId(),
		SpanID:         ev.GetSpanId(),
		ConversationID: ev.GetConversationId(),
		UserID:         ev.GetUserId(),
		Variant:        ev.GetVariant(),
		Context:        ev.GetContext(),
		Reference:      ev.GetReference(),
		Segments:       ev.GetSegments(),
		Embedding:      ev.GetEmbedding(),
		Attributes:     ev.GetAttributes(),
		Truncated:      ev.GetTruncated(),
		ResponseID:     ev.GetResponseId(),
	}
	if ev.GetKind() == eventpb.Kind_KIND_FEEDBACK {
		je.Kind = "feedback"
	}
	if ev.GetTs() != nil {
		je.TS = ev.GetTs().AsTime().UTC().Format(time.RFC3339Nano)
	}
	for _, m := range ev.GetPrompt() {
		je.Prompt = append(je.Prompt, JSONMessage{Role: m.GetRole(), Content: m.GetContent()})
	}
	for _, m := range ev.GetCompletion() {
		je.Completion = append(je.Completion, JSONMessage{Role: m.GetRole(), Content: m.GetContent(), FinishReason: m.GetFinishReason()})
	}
	if e := ev.GetError(); e != nil {
		je.Error = &JSONError{Type: e.GetType(), Message: e.GetMessage()}
	}
	if t := ev.GetPromptTemplate(); t != nil {
		je.PromptTemplate = &JSONTemplate{ID: t.GetId(), Version: t.GetVersion()}
	}
	if s := ev.GetSdk(); s != nil {
		je.SDK = &JSONSDK{Name: s.GetName(), Version: s.GetVersion()}
	}
	if f := ev.GetFeedback(); f != nil {
		je.Feedback = &JSONFeedback{EventID: f.GetEventId(), Score: f.GetScore(), Label: f.GetLabel(), Comment: f.GetComment()}
	}
	return je
}

// MarshalJSON encodes an event in its JSON form.
func MarshalJSON(ev *eventpb.Event) ([]byte, error) {
	return json.Marshal(ToJSON(ev))
}
