package schemas_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sightline-dev/sightline/schemas"
	"github.com/sightline-dev/sightline/schemas/eventpb"
)

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemas.EventJSONSchema))
	if err != nil {
		t.Fatalf("event.schema.json is not JSON: %v", err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("event.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("event.schema.json")
	if err != nil {
		t.Fatalf("event.schema.json does not compile: %v", err)
	}
	return sch
}

func validateDoc(sch *jsonschema.Schema, doc []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return err
	}
	return sch.Validate(inst)
}

// TestJSONSchemaCoversTheJSONForm: the schema's properties are exactly the
// JSON form's fields, the supported versions are its enum, and every
// nested object of the JSON form is described.
func TestJSONSchemaCoversTheJSONForm(t *testing.T) {
	compileSchema(t)
	var doc struct {
		Properties map[string]struct {
			Enum []any `json:"enum"`
		} `json:"properties"`
	}
	dec := json.NewDecoder(bytes.NewReader(schemas.EventJSONSchema))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	var fields []string
	typ := reflect.TypeOf(schemas.JSONEvent{})
	for i := 0; i < typ.NumField(); i++ {
		fields = append(fields, strings.Split(typ.Field(i).Tag.Get("json"), ",")[0])
	}
	var props []string
	for k := range doc.Properties {
		props = append(props, k)
	}
	sort.Strings(fields)
	sort.Strings(props)
	if !reflect.DeepEqual(fields, props) {
		t.Errorf("schema properties %v\nJSON form fields %v", props, fields)
	}
	var versions []string
	for _, v := range schemas.SupportedVersions {
		versions = append(versions, strconv.FormatUint(uint64(v), 10))
	}
	var enum []string
	for _, n := range doc.Properties["schema_version"].Enum {
		enum = append(enum, fmt.Sprint(n))
	}
	if !reflect.DeepEqual(enum, versions) {
		t.Errorf("schema_version enum %v, supported versions %v", enum, versions)
	}
}

// TestJSONSchemaAgreesWithDecodeJSON: events the JSON decoder accepts pass
// the schema, and documents it rejects for a reason the schema can state
// fail it too.
func TestJSONSchemaAgreesWithDecodeJSON(t *testing.T) {
	sch := compileSchema(t)
	ttft := 120.0
	full := &eventpb.Event{
		SchemaVersion: 1, EventId: "0190c8e4-5a2b-7c3d-8e4f-000000000001", Tenant: "acme", App: "support-bot", Environment: "prod",
		Ts: timestamppb.New(time.Date(2025, 10, 1, 12, 0, 0, 250e6, time.UTC)), DurationMs: 1800, TtftMs: &ttft,
		Provider: "openai", Operation: "chat", RequestModel: "gpt-4o", Model: "gpt-4o-2024-08-06",
		Prompt:      []*eventpb.Message{{Role: "system", Content: "Be brief."}, {Role: "user", Content: "Hi"}},
		Completion:  []*eventpb.Message{{Role: "assistant", Content: "Hello!", FinishReason: "stop"}},
		InputTokens: 12, OutputTokens: 3, CostUsd: 0.0001, Error: &eventpb.Error{Type: "timeout", Message: "slow"},
		TraceId: "0102030405060708090a0b0c0d0e0f10", SpanId: "0102030405060708", ConversationId: "c1", UserId: "u1",
		PromptTemplate: &eventpb.PromptTemplate{Id: "greet", Version: "3"}, Variant: "B", Context: []string{"doc"},
		Reference: "Hello.", Segments: map[string]string{"user.locale": "fr"}, Embedding: []float32{0.1, -0.2},
		Attributes: map[string]string{"k": "v"}, Sdk: &eventpb.SDK{Name: "sightline-go", Version: "0.1.0"},
		Truncated: true, ResponseId: "chatcmpl-1",
	}
	minimal := &eventpb.Event{SchemaVersion: 1, EventId: "0190c8e4-5a2b-7c3d-8e4f-000000000002", App: "a",
		RequestModel: "m", Ts: timestamppb.New(time.Date(2025, 10, 1, 12, 0, 0, 0, time.UTC))}
	feedback := &eventpb.Event{SchemaVersion: 1, EventId: "0190c8e4-5a2b-7c3d-8e4f-000000000003", Kind: eventpb.Kind_KIND_FEEDBACK,
		Ts:       timestamppb.New(time.Date(2025, 10, 1, 12, 0, 5, 0, time.UTC)),
		Feedback: &eventpb.Feedback{EventId: full.EventId, Score: -1, Label: "thumbs_down", Comment: "wrong"}}
	for _, ev := range []*eventpb.Event{full, minimal, feedback} {
		doc, err := schemas.MarshalJSON(ev)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := schemas.DecodeJSON(doc); err != nil {
			t.Fatalf("DecodeJSON rejects %s: %v", doc, err)
		}
		if err := validateDoc(sch, doc); err != nil {
			t.Errorf("schema rejects an event DecodeJSON accepts:\n%s\n%v", doc, err)
		}
	}
	// Unknown top-level fields are accepted (kept in attributes).
	extra := `{"schema_version":1,"event_id":"0190c8e4-5a2b-7c3d-8e4f-000000000004","ts":"1759320000","app":"a","model":"m","my_field":{"x":1}}`
	if _, err := schemas.DecodeJSON([]byte(extra)); err != nil {
		t.Fatal(err)
	}
	if err := validateDoc(sch, []byte(extra)); err != nil {
		t.Errorf("schema rejects an unknown top-level field: %v", err)
	}

	base := `"schema_version":1,"event_id":"0190c8e4-5a2b-7c3d-8e4f-000000000005","ts":"2025-10-01T12:00:00Z"`
	for name, doc := range map[string]string{
		"no event_id":            `{"schema_version":1,"ts":"2025-10-01T12:00:00Z","app":"a","model":"m"}`,
		"event_id not a uuid":    `{"schema_version":1,"event_id":"abc","ts":"2025-10-01T12:00:00Z","app":"a","model":"m"}`,
		"no schema_version":      `{"event_id":"0190c8e4-5a2b-7c3d-8e4f-000000000005","ts":"2025-10-01T12:00:00Z","app":"a","model":"m"}`,
		"unsupported version":    `{"schema_version":7,"event_id":"0190c8e4-5a2b-7c3d-8e4f-000000000005","ts":"2025-10-01T12:00:00Z","app":"a","model":"m"}`,
		"no ts":                  `{"schema_version":1,"event_id":"0190c8e4-5a2b-7c3d-8e4f-000000000005","app":"a","model":"m"}`,
		"ts as a number":         `{"schema_version":1,"event_id":"0190c8e4-5a2b-7c3d-8e4f-000000000005","ts":1759320000,"app":"a","model":"m"}`,
		"tokens as a string":     `{` + base + `,"app":"a","model":"m","input_tokens":"12"}`,
		"negative tokens":        `{` + base + `,"app":"a","model":"m","output_tokens":-1}`,
		"negative duration":      `{` + base + `,"app":"a","model":"m","duration_ms":-5}`,
		"unknown kind":           `{` + base + `,"app":"a","model":"m","kind":"other"}`,
		"call without app":       `{` + base + `,"model":"m"}`,
		"call without model":     `{` + base + `,"app":"a"}`,
		"prompt not a list":      `{` + base + `,"app":"a","model":"m","prompt":"hi"}`,
		"feedback without event": `{` + base + `,"kind":"feedback","feedback":{"score":1}}`,
		"feedback without body":  `{` + base + `,"kind":"feedback"}`,
	} {
		if _, err := schemas.DecodeJSON([]byte(doc)); err == nil {
			t.Errorf("%s: DecodeJSON accepts %s", name, doc)
		}
		if err := validateDoc(sch, []byte(doc)); err == nil {
			t.Errorf("%s: the schema accepts %s", name, doc)
		}
	}
}
