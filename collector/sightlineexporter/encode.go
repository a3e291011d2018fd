package sightlineexporter

import (
	"errors"
	"math"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/sightline-dev/sightline/schemas/eventpb"
)

// Field numbers of eventpb.Event and its messages, for marshalEvent.
// TestHandEncodedFields checks every one against the descriptor, and
// fails when the schema gains a field this file does not know.
const (
	evSchemaVersion  = 1
	evEventID        = 2
	evTenant         = 3
	evApp            = 4
	evEnvironment    = 5
	evTs             = 6
	evDurationMs     = 7
	evProvider       = 9
	evOperation      = 10
	evRequestModel   = 11
	evModel          = 12
	evPrompt         = 13
	evCompletion     = 14
	evInputTokens    = 15
	evOutputTokens   = 16
	evError          = 18
	evTraceID        = 19
	evSpanID         = 20
	evConversationID = 21
	evUserID         = 22
	evVariant        = 24
	evContext        = 25
	evAttributes     = 29
	evSDK            = 30
	evTruncated      = 31
	evResponseID     = 32

	msgRole    = 1 // Message.role
	msgContent = 2 // Message.content
	msgFinish  = 3 // Message.finish_reason

	pairFirst  = 1 // Error.type, SDK.name, map entry key
	pairSecond = 2 // Error.message, SDK.version, map entry value

	tsSeconds = 1 // google.protobuf.Timestamp
	tsNanos   = 2
)

// handEncoded are the Event fields marshalEvent writes itself; the
// others (the exporter never sets them) go through the protobuf runtime
// when set. The test compares both lists with the descriptor.
var handEncoded = map[string]protowire.Number{
	"schema_version": evSchemaVersion, "event_id": evEventID, "tenant": evTenant, "app": evApp,
	"environment": evEnvironment, "ts": evTs, "duration_ms": evDurationMs, "provider": evProvider,
	"operation": evOperation, "request_model": evRequestModel, "model": evModel, "prompt": evPrompt,
	"completion": evCompletion, "input_tokens": evInputTokens, "output_tokens": evOutputTokens,
	"error": evError, "trace_id": evTraceID, "span_id": evSpanID, "conversation_id": evConversationID,
	"user_id": evUserID, "variant": evVariant, "context": evContext, "attributes": evAttributes,
	"sdk": evSDK, "truncated": evTruncated, "response_id": evResponseID,
}

// marshalEvent appends ev's protobuf encoding to b. It writes the fields
// itself rather than through the protobuf runtime, which would walk the
// message by reflection and check every content byte for UTF-8 a further
// time: the translator makes every string valid UTF-8 as it reads it (its
// fuzz test checks each event with schemas.Validate, UTF-8 included), and
// the score stage's proto.Unmarshal checks again. Fields the exporter
// never sets are passed to the runtime when present, so the result always
// decodes to ev (the round-trip test checks both paths).
func marshalEvent(b []byte, ev *eventpb.Event) ([]byte, error) {
	b = appendVarint(b, evSchemaVersion, uint64(ev.SchemaVersion))
	b = appendString(b, evEventID, ev.EventId)
	b = appendString(b, evTenant, ev.Tenant)
	b = appendString(b, evApp, ev.App)
	b = appendString(b, evEnvironment, ev.Environment)
	if ts := ev.Ts; ts != nil {
		size := sizeVarint(tsSeconds, uint64(ts.Seconds)) + sizeVarint(tsNanos, uint64(int64(ts.Nanos)))
		b = protowire.AppendTag(b, evTs, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(size))
		b = appendVarint(b, tsSeconds, uint64(ts.Seconds))
		b = appendVarint(b, tsNanos, uint64(int64(ts.Nanos)))
	}
	b = appendDouble(b, evDurationMs, ev.DurationMs)
	b = appendString(b, evProvider, ev.Provider)
	b = appendString(b, evOperation, ev.Operation)
	b = appendString(b, evRequestModel, ev.RequestModel)
	b = appendString(b, evModel, ev.Model)
	var err error
	if b, err = appendMessages(b, evPrompt, ev.Prompt); err != nil {
		return b, err
	}
	if b, err = appendMessages(b, evCompletion, ev.Completion); err != nil {
		return b, err
	}
	b = appendVarint(b, evInputTokens, uint64(ev.InputTokens))
	b = appendVarint(b, evOutputTokens, uint64(ev.OutputTokens))
	if e := ev.Error; e != nil {
		b = appendPair(b, evError, e.Type, e.Message)
	}
	b = appendString(b, evTraceID, ev.TraceId)
	b = appendString(b, evSpanID, ev.SpanId)
	b = appendString(b, evConversationID, ev.ConversationId)
	b = appendString(b, evUserID, ev.UserId)
	b = appendString(b, evVariant, ev.Variant)
	for _, c := range ev.Context {
		b = protowire.AppendTag(b, evContext, protowire.BytesType)
		b = protowire.AppendString(b, c)
	}
	for k, v := range ev.Attributes {
		// A map entry is a message of key and value, both always written.
		b = protowire.AppendTag(b, evAttributes, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(sizeBytes(pairFirst, k)+sizeBytes(pairSecond, v)))
		b = appendBytes(b, pairFirst, k)
		b = appendBytes(b, pairSecond, v)
	}
	if s := ev.Sdk; s != nil {
		b = appendPair(b, evSDK, s.Name, s.Version)
	}
	if ev.Truncated {
		b = appendVarint(b, evTruncated, 1)
	}
	b = appendString(b, evResponseID, ev.ResponseId)
	if rest := unhandled(ev); rest != nil {
		return proto.MarshalOptions{}.MarshalAppend(b, rest)
	}
	return b, nil
}

// unhandled returns the fields marshalEvent does not write, or nil when
// none is set.
func unhandled(ev *eventpb.Event) *eventpb.Event {
	if ev.TtftMs == nil && ev.CostUsd == 0 && ev.PromptTemplate == nil && ev.Reference == "" &&
		len(ev.Segments) == 0 && len(ev.Embedding) == 0 && ev.Kind == 0 && ev.Feedback == nil {
		return nil
	}
	return &eventpb.Event{TtftMs: ev.TtftMs, CostUsd: ev.CostUsd, PromptTemplate: ev.PromptTemplate,
		Reference: ev.Reference, Segments: ev.Segments, Embedding: ev.Embedding, Kind: ev.Kind, Feedback: ev.Feedback}
}

// appendMessages appends msgs as repeated field num; empty strings are
// left out, as proto3 does. Roles and finish reasons are short and some
// come straight from attributes: they are checked here.
func appendMessages(b []byte, num protowire.Number, msgs []*eventpb.Message) ([]byte, error) {
	for _, m := range msgs {
		size := 0
		if m != nil {
			if !utf8.ValidString(m.Role) || !utf8.ValidString(m.FinishReason) {
				return b, errors.New("message role or finish reason is not valid UTF-8")
			}
			size = sizeString(msgRole, m.Role) + sizeString(msgContent, m.Content) + sizeString(msgFinish, m.FinishReason)
		}
		b = protowire.AppendTag(b, num, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(size))
		if m != nil {
			b = appendString(b, msgRole, m.Role)
			b = appendString(b, msgContent, m.Content)
			b = appendString(b, msgFinish, m.FinishReason)
		}
	}
	return b, nil
}

// appendPair appends a message of two string fields (Error, SDK).
func appendPair(b []byte, num protowire.Number, first, second string) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(sizeString(pairFirst, first)+sizeString(pairSecond, second)))
	b = appendString(b, pairFirst, first)
	return appendString(b, pairSecond, second)
}

// sizeString and appendString leave out empty strings, as proto3 does for
// singular fields.
func sizeString(num protowire.Number, s string) int {
	if s == "" {
		return 0
	}
	return sizeBytes(num, s)
}

func appendString(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	return appendBytes(b, num, s)
}

func sizeBytes(num protowire.Number, s string) int {
	return protowire.SizeTag(num) + protowire.SizeBytes(len(s))
}

func appendBytes(b []byte, num protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func sizeVarint(num protowire.Number, v uint64) int {
	if v == 0 {
		return 0
	}
	return protowire.SizeTag(num) + protowire.SizeVarint(v)
}

func appendVarint(b []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func appendDouble(b []byte, num protowire.Number, f float64) []byte {
	bits := math.Float64bits(f)
	if bits == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.Fixed64Type)
	return protowire.AppendFixed64(b, bits)
}
