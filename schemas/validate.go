package schemas

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	"github.com/sightline-dev/sightline/schemas/eventpb"
)

// CurrentVersion is the schema_version this build writes.
const CurrentVersion = 1

// SupportedVersions are the schema versions this build accepts.
var SupportedVersions = []uint32{1}

// Limits on what one event may carry. Content beyond MaxContentBytes per
// field is cut (and the event flagged truncated) rather than rejected, so a
// huge prompt never costs the event its other fields.
const (
	MaxLabelBytes    = 256       // tenant, app, model, ... : rejected beyond
	MaxContentBytes  = 256 << 10 // one message, passage or reference: cut beyond
	MaxMessages      = 1024      // prompt or completion messages: cut beyond
	MaxContextItems  = 256       // retrieved passages: cut beyond
	MaxMapEntries    = 256       // segments or attributes: cut beyond
	MaxEmbeddingDims = 8192      // rejected beyond
	MaxEncodedBytes  = 16 << 20  // one encoded record: rejected beyond
)

// Reason classifies why an event was rejected; it goes into the DLQ header
// and the metrics label, so the set is small and fixed.
type Reason string

const (
	ReasonDecode        Reason = "decode"
	ReasonSchemaVersion Reason = "schema_version"
	ReasonMissingField  Reason = "missing_field"
	ReasonInvalidField  Reason = "invalid_field"
	ReasonTooLarge      Reason = "too_large"
)

// Error is a rejected event: the reason class, the field (JSON name) and a
// human-readable detail that never contains event content.
type Error struct {
	Reason Reason
	Field  string
	Detail string
}

func (e *Error) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%s: %s", e.Reason, e.Detail)
	}
	return fmt.Sprintf("%s: %s: %s", e.Reason, e.Field, e.Detail)
}

// ReasonOf returns the reason class of err, or ReasonDecode for errors that
// are not *Error.
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ReasonDecode
}

func invalid(field, format string, args ...any) error {
	return &Error{Reason: ReasonInvalidField, Field: field, Detail: fmt.Sprintf(format, args...)}
}

func missing(field string) error {
	return &Error{Reason: ReasonMissingField, Field: field, Detail: "is required"}
}

var (
	minTS = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTS = time.Date(2105, 12, 31, 0, 0, 0, 0, time.UTC) // DateTime's range ends in 2106
)

// Decode parses one protobuf-encoded event and validates it. Content over
// the limits is truncated (ev.Truncated set); anything else wrong is an
// *Error.
func Decode(b []byte) (*eventpb.Event, error) {
	ev := new(eventpb.Event)
	if err := DecodeInto(b, ev); err != nil {
		return nil, err
	}
	return ev, nil
}

// DecodeInto is Decode into a caller-provided (e.g. reused) message.
func DecodeInto(b []byte, ev *eventpb.Event) error {
	if len(b) > MaxEncodedBytes {
		return &Error{Reason: ReasonTooLarge, Detail: fmt.Sprintf("record of %d bytes exceeds %d", len(b), MaxEncodedBytes)}
	}
	if len(b) == 0 {
		return &Error{Reason: ReasonDecode, Detail: "empty record"}
	}
	if err := proto.Unmarshal(b, ev); err != nil {
		if strings.Contains(err.Error(), "invalid UTF-8") {
			return &Error{Reason: ReasonInvalidField, Detail: "a string field is not valid UTF-8"}
		}
		return &Error{Reason: ReasonDecode, Detail: "not a sightline.event.v1.Event protobuf: " + sanitize(err.Error())}
	}
	Truncate(ev)
	return Validate(ev)
}

// sanitize keeps an error text short and free of anything that could be
// event content.
func sanitize(s string) string {
	if len(s) > 200 {
		s = s[:200]
	}
	if !utf8.ValidString(s) {
		return "undecodable"
	}
	return s
}

// Validate checks an event against the contract. It does not modify ev.
func Validate(ev *eventpb.Event) error {
	if err := ValidateFields(ev); err != nil {
		return err
	}
	// proto.Unmarshal already rejects invalid UTF-8 in strings; events built
	// in Go (SDK, collector) are checked here.
	return checkUTF8(ev)
}

// ValidateFields is Validate without the pass over every string that
// checks it is valid UTF-8. It is for producers that make each string
// valid as they build the event (the collector exporter does, and its
// fuzz test checks its output with Validate); the score stage's
// proto.Unmarshal checks the encoding again on the way in.
func ValidateFields(ev *eventpb.Event) error {
	if ev == nil {
		return missing("event")
	}
	if !versionSupported(ev.GetSchemaVersion()) {
		if ev.GetSchemaVersion() == 0 {
			return &Error{Reason: ReasonSchemaVersion, Field: "schema_version", Detail: "is required"}
		}
		return &Error{Reason: ReasonSchemaVersion, Field: "schema_version",
			Detail: fmt.Sprintf("version %d is not supported (supported: %v)", ev.GetSchemaVersion(), SupportedVersions)}
	}
	if ev.GetEventId() == "" {
		return missing("event_id")
	}
	if _, err := uuid.Parse(ev.GetEventId()); err != nil || len(ev.GetEventId()) != 36 {
		return invalid("event_id", "must be a UUID in its 36-character form")
	}
	for i, p := range LabelFields(ev) {
		if p != nil && len(*p) > MaxLabelBytes {
			return invalid(labelNames[i], "is %d bytes, the limit is %d", len(*p), MaxLabelBytes)
		}
	}
	if ev.GetTs() == nil {
		return missing("ts")
	}
	if err := ev.GetTs().CheckValid(); err != nil {
		return invalid("ts", "is not a valid timestamp")
	}
	if t := ev.GetTs().AsTime(); t.Before(minTS) || t.After(maxTS) {
		return invalid("ts", "must be between %s and %s", minTS.Format("2006-01-02"), maxTS.Format("2006-01-02"))
	}
	switch ev.GetKind() {
	case eventpb.Kind_KIND_CALL:
		if ev.GetApp() == "" {
			return missing("app")
		}
		if ev.GetModel() == "" && ev.GetRequestModel() == "" {
			return &Error{Reason: ReasonMissingField, Field: "model", Detail: "model or request_model is required"}
		}
	case eventpb.Kind_KIND_FEEDBACK:
		fb := ev.GetFeedback()
		if fb == nil || fb.GetEventId() == "" {
			return missing("feedback.event_id")
		}
		if _, err := uuid.Parse(fb.GetEventId()); err != nil {
			return invalid("feedback.event_id", "must be a UUID")
		}
		if !finite(fb.GetScore()) {
			return invalid("feedback.score", "must be a finite number")
		}
	default:
		return invalid("kind", "unknown kind %d", int32(ev.GetKind()))
	}
	for _, n := range [...]struct {
		name string
		v    float64
	}{{"duration_ms", ev.GetDurationMs()}, {"ttft_ms", ev.GetTtftMs()}, {"cost_usd", ev.GetCostUsd()}} {
		if !finite(n.v) || n.v < 0 {
			return invalid(n.name, "must be a finite non-negative number")
		}
	}
	if ev.GetInputTokens() < 0 {
		return invalid("input_tokens", "must not be negative")
	}
	if ev.GetOutputTokens() < 0 {
		return invalid("output_tokens", "must not be negative")
	}
	if len(ev.GetEmbedding()) > MaxEmbeddingDims {
		return invalid("embedding", "has %d dimensions, the limit is %d", len(ev.GetEmbedding()), MaxEmbeddingDims)
	}
	for _, x := range ev.GetEmbedding() {
		if !finite(float64(x)) {
			return invalid("embedding", "must hold finite numbers")
		}
	}
	return nil
}

func checkUTF8(ev *eventpb.Event) error {
	for i, m := range ev.GetPrompt() {
		if !utf8.ValidString(m.GetContent()) || !utf8.ValidString(m.GetRole()) {
			return invalid(fmt.Sprintf("prompt[%d]", i), "is not valid UTF-8")
		}
	}
	for i, m := range ev.GetCompletion() {
		if !utf8.ValidString(m.GetContent()) || !utf8.ValidString(m.GetRole()) || !utf8.ValidString(m.GetFinishReason()) {
			return invalid(fmt.Sprintf("completion[%d]", i), "is not valid UTF-8")
		}
	}
	for i, c := range ev.GetContext() {
		if !utf8.ValidString(c) {
			return invalid(fmt.Sprintf("context[%d]", i), "is not valid UTF-8")
		}
	}
	if !utf8.ValidString(ev.GetReference()) {
		return invalid("reference", "is not valid UTF-8")
	}
	for _, s := range [...]string{ev.GetTenant(), ev.GetApp(), ev.GetModel(), ev.GetRequestModel(), ev.GetVariant(), ev.GetUserId()} {
		if !utf8.ValidString(s) {
			return invalid("labels", "are not valid UTF-8")
		}
	}
	return nil
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

func versionSupported(v uint32) bool {
	for _, s := range SupportedVersions {
		if s == v {
			return true
		}
	}
	return false
}

// labelNames names the fields LabelFields returns, in its order.
var labelNames = [...]string{"tenant", "app", "environment", "provider", "operation", "request_model", "model",
	"variant", "trace_id", "span_id", "conversation_id", "user_id", "response_id",
	"prompt_template.id", "prompt_template.version"}

// LabelFields points at ev's label fields, the ones limited to
// MaxLabelBytes (nil for the prompt template's when it has none).
func LabelFields(ev *eventpb.Event) [len(labelNames)]*string {
	f := [len(labelNames)]*string{&ev.Tenant, &ev.App, &ev.Environment, &ev.Provider, &ev.Operation,
		&ev.RequestModel, &ev.Model, &ev.Variant, &ev.TraceId, &ev.SpanId, &ev.ConversationId, &ev.UserId,
		&ev.ResponseId}
	if t := ev.PromptTemplate; t != nil {
		f[13], f[14] = &t.Id, &t.Version
	}
	return f
}

// CutLabels cuts every label field to MaxLabelBytes at a UTF-8 boundary (a
// long label is more useful cut than the event rejected) and reports
// whether it cut any. It does not set Truncated.
func CutLabels(ev *eventpb.Event) bool {
	cut := false
	for _, p := range LabelFields(ev) {
		if p != nil && len(*p) > MaxLabelBytes {
			*p, cut = CutUTF8(*p, MaxLabelBytes), true
		}
	}
	return cut
}

// Truncate cuts content fields to the limits, at a UTF-8 boundary, and sets
// ev.Truncated when it cut anything. It reports whether it did.
func Truncate(ev *eventpb.Event) bool {
	cut := false
	if len(ev.Prompt) > MaxMessages {
		ev.Prompt, cut = ev.Prompt[len(ev.Prompt)-MaxMessages:], true // keep the newest turns
	}
	if len(ev.Completion) > MaxMessages {
		ev.Completion, cut = ev.Completion[:MaxMessages], true
	}
	for _, m := range ev.Prompt {
		if m != nil && len(m.Content) > MaxContentBytes {
			m.Content, cut = CutUTF8(m.Content, MaxContentBytes), true
		}
	}
	for _, m := range ev.Completion {
		if m != nil && len(m.Content) > MaxContentBytes {
			m.Content, cut = CutUTF8(m.Content, MaxContentBytes), true
		}
	}
	if len(ev.Context) > MaxContextItems {
		ev.Context, cut = ev.Context[:MaxContextItems], true
	}
	for i, c := range ev.Context {
		if len(c) > MaxContentBytes {
			ev.Context[i], cut = CutUTF8(c, MaxContentBytes), true
		}
	}
	if len(ev.Reference) > MaxContentBytes {
		ev.Reference, cut = CutUTF8(ev.Reference, MaxContentBytes), true
	}
	if ev.Error != nil && len(ev.Error.Message) > MaxContentBytes {
		ev.Error.Message, cut = CutUTF8(ev.Error.Message, MaxContentBytes), true
	}
	for _, m := range []map[string]string{ev.Segments, ev.Attributes} {
		if len(m) > MaxMapEntries {
			n := 0
			for k := range m {
				if n++; n > MaxMapEntries {
					delete(m, k)
				}
			}
			cut = true
		}
		for k, v := range m {
			if len(v) > MaxContentBytes {
				m[k], cut = CutUTF8(v, MaxContentBytes), true
			}
		}
	}
	if cut {
		ev.Truncated = true
	}
	return cut
}

// CutUTF8 returns s cut to at most n bytes without splitting a UTF-8
// sequence.
func CutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
