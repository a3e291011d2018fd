package schemas

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sightline-dev/sightline/schemas/eventpb"
)

func validEvent() *eventpb.Event {
	return &eventpb.Event{
		SchemaVersion: CurrentVersion,
		EventId:       "0190c8e4-5a2b-7c3d-8e4f-0123456789ab",
		Tenant:        "acme",
		App:           "support-bot",
		Ts:            timestamppb.New(time.Date(2026, 11, 1, 12, 0, 0, 123456000, time.UTC)),
		DurationMs:    812,
		Model:         "gpt-4o",
		Prompt:        []*eventpb.Message{{Role: "user", Content: "hello"}},
		Completion:    []*eventpb.Message{{Role: "assistant", Content: "hi", FinishReason: "stop"}},
		InputTokens:   3,
		OutputTokens:  1,
		Segments:      map[string]string{"user.locale": "de-DE"},
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*eventpb.Event)
		reason Reason
		field  string
	}{
		{"valid", func(*eventpb.Event) {}, "", ""},
		{"no version", func(e *eventpb.Event) { e.SchemaVersion = 0 }, ReasonSchemaVersion, "schema_version"},
		{"future version", func(e *eventpb.Event) { e.SchemaVersion = 7 }, ReasonSchemaVersion, "schema_version"},
		{"no id", func(e *eventpb.Event) { e.EventId = "" }, ReasonMissingField, "event_id"},
		{"bad id", func(e *eventpb.Event) { e.EventId = "42" }, ReasonInvalidField, "event_id"},
		{"no app", func(e *eventpb.Event) { e.App = "" }, ReasonMissingField, "app"},
		{"no model", func(e *eventpb.Event) { e.Model = "" }, ReasonMissingField, "model"},
		{"request model suffices", func(e *eventpb.Event) { e.Model = ""; e.RequestModel = "gpt-4o" }, "", ""},
		{"no ts", func(e *eventpb.Event) { e.Ts = nil }, ReasonMissingField, "ts"},
		{"ancient ts", func(e *eventpb.Event) { e.Ts = timestamppb.New(time.Unix(0, 0)) }, ReasonInvalidField, "ts"},
		{"negative duration", func(e *eventpb.Event) { e.DurationMs = -1 }, ReasonInvalidField, "duration_ms"},
		{"negative tokens", func(e *eventpb.Event) { e.OutputTokens = -5 }, ReasonInvalidField, "output_tokens"},
		{"long label", func(e *eventpb.Event) { e.App = strings.Repeat("a", MaxLabelBytes+1) }, ReasonInvalidField, "app"},
		{"invalid utf8 content", func(e *eventpb.Event) { e.Prompt[0].Content = "a\xffb" }, ReasonInvalidField, "prompt[0]"},
		{"feedback without target", func(e *eventpb.Event) { e.Kind = eventpb.Kind_KIND_FEEDBACK }, ReasonMissingField, "feedback.event_id"},
		{"feedback", func(e *eventpb.Event) {
			e.Kind = eventpb.Kind_KIND_FEEDBACK
			e.Feedback = &eventpb.Feedback{EventId: "0190c8e4-5a2b-7c3d-8e4f-0123456789ac", Score: 1}
		}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := validEvent()
			tt.mutate(ev)
			err := Validate(ev)
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("got %v, want *Error with reason %s", err, tt.reason)
			}
			if e.Reason != tt.reason || e.Field != tt.field {
				t.Fatalf("got reason %s field %q, want %s %q (%v)", e.Reason, e.Field, tt.reason, tt.field, err)
			}
		})
	}
}

func TestDecodeRoundTripAndTruncation(t *testing.T) {
	ev := validEvent()
	ev.Prompt[0].Content = strings.Repeat("é", MaxContentBytes) // 2 bytes each: twice the limit
	b, err := proto.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if !got.GetTruncated() {
		t.Fatal("oversized prompt not flagged truncated")
	}
	if n := len(got.GetPrompt()[0].GetContent()); n > MaxContentBytes || n < MaxContentBytes-1 {
		t.Fatalf("prompt cut to %d bytes, limit %d", n, MaxContentBytes)
	}
	if !strings.HasPrefix(got.GetPrompt()[0].GetContent(), "éé") || strings.ContainsRune(got.GetPrompt()[0].GetContent(), 0xfffd) {
		t.Fatal("cut split a UTF-8 sequence")
	}
	if got.GetModel() != "gpt-4o" || got.GetSegments()["user.locale"] != "de-DE" {
		t.Fatal("other fields lost in truncation")
	}
}

func TestDecodeRejects(t *testing.T) {
	for name, b := range map[string][]byte{
		"empty":   nil,
		"garbage": []byte("\xff\xff\xff\xff not protobuf"),
		"json":    []byte(`{"schema_version":1}`),
	} {
		if _, err := Decode(b); err == nil {
			t.Errorf("%s: decoded without error", name)
		} else if ReasonOf(err) != ReasonDecode && ReasonOf(err) != ReasonSchemaVersion {
			t.Errorf("%s: reason %s", name, ReasonOf(err))
		}
	}
}

func TestJSONRoundTripKeepsUnknownFields(t *testing.T) {
	in := `{"schema_version":1,"event_id":"0190c8e4-5a2b-7c3d-8e4f-0123456789ab","app":"a","model":"m",
	  "ts":"2026-11-01T12:00:00.5Z","duration_ms":12.5,"ttft_ms":3,"input_tokens":10,"output_tokens":20,
	  "prompt":[{"role":"user","content":"q"}],"completion":[{"role":"assistant","content":"a","finish_reason":"stop"}],
	  "context":["doc"],"reference":"a","segments":{"user.locale":"fr-FR"},
	  "latency_bucket":"slow","custom":{"x":1}}`
	ev, err := DecodeJSON([]byte(in))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if ev.GetAttributes()["latency_bucket"] != "slow" || ev.GetAttributes()["custom"] != `{"x":1}` {
		t.Fatalf("unknown fields not kept in attributes: %v", ev.GetAttributes())
	}
	if ev.GetTs().AsTime().Nanosecond() != 500_000_000 || ev.GetTtftMs() != 3 {
		t.Fatal("ts or ttft lost")
	}
	out, err := MarshalJSON(ev)
	if err != nil {
		t.Fatal(err)
	}
	ev2, err := DecodeJSON(out)
	if err != nil {
		t.Fatalf("re-decode: %v", err)
	}
	if !proto.Equal(ev, ev2) {
		t.Fatalf("JSON round trip changed the event:\n%s", out)
	}
	var generic map[string]any
	if err := json.Unmarshal(out, &generic); err != nil {
		t.Fatal(err)
	}
	if _, ok := generic["input_tokens"].(float64); !ok {
		t.Fatal("input_tokens must be a JSON number")
	}
}

func TestJSONErrorsNameTheField(t *testing.T) {
	_, err := DecodeJSON([]byte(`{"schema_version":1,"event_id":"0190c8e4-5a2b-7c3d-8e4f-0123456789ab","app":"a","model":"m","ts":"yesterday"}`))
	if err == nil || !strings.Contains(err.Error(), "ts") {
		t.Fatalf("got %v, want an error naming ts", err)
	}
	_, err = DecodeJSON([]byte(`{"input_tokens":"many"}`))
	if err == nil || !strings.Contains(err.Error(), "input_tokens") {
		t.Fatalf("got %v, want an error naming input_tokens", err)
	}
}
