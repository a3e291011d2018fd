package sightlineexporter

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/sightline-dev/sightline/internal/broker"
	"github.com/sightline-dev/sightline/schemas"
	"github.com/sightline-dev/sightline/schemas/eventpb"
)

func testConfig(brokers []string) *Config {
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	cfg.Brokers = brokers
	// Synchronous: ConsumeTraces returns once the brokers acknowledged.
	cfg.QueueBatchConfig = configoptional.None[exporterhelper.QueueBatchConfig]()
	return cfg
}

func readTraces(t testing.TB, name string) ptrace.Traces {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "traces", name))
	if err != nil {
		t.Fatal(err)
	}
	td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(b)
	if err != nil {
		t.Fatal(err)
	}
	return td
}

func readLogs(t testing.TB, name string) plog.Logs {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "logs", name))
	if err != nil {
		t.Fatal(err)
	}
	ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs(b)
	if err != nil {
		t.Fatal(err)
	}
	return ld
}

// TestExportToBroker runs the exporter as the collector does (factory,
// exporterhelper, Start/Shutdown) against the in-process broker and reads
// the records back with the score stage's decoder.
func TestExportToBroker(t *testing.T) {
	b := startBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := testConfig(b.Addrs())
	f := NewFactory()
	set := exportertest.NewNopSettings(Type)
	te, err := f.CreateTraces(ctx, set, cfg)
	must(t, err, "create traces exporter")
	le, err := f.CreateLogs(ctx, set, cfg)
	must(t, err, "create logs exporter")
	host := componenttest.NewNopHost()
	must(t, te.Start(ctx, host), "start traces exporter")
	must(t, le.Start(ctx, host), "start logs exporter")

	var want []string
	tr, _ := newTestTranslator(t)
	for _, name := range []string{"genai_current.json", "openllmetry.json", "openinference.json", "span_events.json"} {
		td := readTraces(t, name)
		for _, ev := range tr.traces(td, nil) {
			want = append(want, ev.EventId)
		}
		must(t, te.ConsumeTraces(ctx, td), "export "+name)
	}
	ld := readLogs(t, "logs_details.json")
	for _, ev := range tr.logs(ld, nil) {
		want = append(want, ev.EventId)
	}
	must(t, le.ConsumeLogs(ctx, ld), "export logs")
	// A retried batch produces the same ids again.
	must(t, te.ConsumeTraces(ctx, readTraces(t, "genai_current.json")), "export again")

	must(t, te.Shutdown(ctx), "shutdown traces exporter")
	must(t, le.Shutdown(ctx), "shutdown logs exporter")

	kcl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...), kgo.ConsumeTopics(broker.TopicEvents),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	must(t, err, "consumer")
	defer kcl.Close()
	var got []string
	for len(got) < len(want)+1 {
		fetches := kcl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("got %d of %d records: %v", len(got), len(want)+1, err)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			if r.Key != nil {
				t.Errorf("record has a key")
			}
			ev, err := schemas.Decode(r.Value)
			if err != nil {
				t.Errorf("record does not decode: %v", err)
				return
			}
			if ev.App == "" || (ev.Model == "" && ev.RequestModel == "") {
				t.Errorf("event without app or model: %v", ev)
			}
			got = append(got, ev.EventId)
		})
	}
	seen := map[string]int{}
	for _, id := range got {
		seen[id]++
	}
	for _, id := range want {
		if seen[id] == 0 {
			t.Errorf("event %s not produced", id)
		}
	}
	if len(seen) != len(want) {
		sort.Strings(got)
		t.Errorf("%d distinct ids, want %d (retry must reuse ids): %v", len(seen), len(want), got)
	}
}

// TestExportBrokerDown: an unreachable broker fails the push (for
// exporterhelper to retry) without hanging past the timeout.
func TestExportBrokerDown(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig([]string{"127.0.0.1:1"})
	cfg.Timeout = 500 * time.Millisecond
	cfg.BackOffConfig.Enabled = false
	te, err := NewFactory().CreateTraces(ctx, exportertest.NewNopSettings(Type), cfg)
	must(t, err, "create")
	must(t, te.Start(ctx, componenttest.NewNopHost()), "start")
	defer te.Shutdown(ctx)
	start := time.Now()
	if err := te.ConsumeTraces(ctx, readTraces(t, "genai_current.json")); err == nil {
		t.Fatal("push to a down broker succeeded")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("push took %s", d)
	}
	// Spans that are no LLM calls need no broker.
	if err := te.ConsumeTraces(ctx, ptrace.NewTraces()); err != nil {
		t.Errorf("empty push: %v", err)
	}
}

// TestHandEncodedFields: marshalEvent encodes content and attributes by
// field number; a schema change to those fields must show up here rather
// than as silently missing data.
func TestHandEncodedFields(t *testing.T) {
	ev := (&eventpb.Event{}).ProtoReflect().Descriptor().Fields()
	for _, f := range []struct {
		name string
		num  protowire.Number
	}{{"prompt", promptField}, {"completion", completionField}, {"context", contextField}, {"attributes", attributesField}} {
		if fd := ev.ByName(protoreflect.Name(f.name)); fd == nil || fd.Number() != f.num {
			t.Errorf("Event.%s is not field %d", f.name, f.num)
		}
	}
	msg := (&eventpb.Message{}).ProtoReflect().Descriptor().Fields()
	if msg.Len() != messageFieldCount {
		t.Errorf("Message has %d fields, marshalEvent encodes %d", msg.Len(), messageFieldCount)
	}
	for _, f := range []struct {
		name string
		num  protowire.Number
	}{{"role", msgRoleField}, {"content", msgContentField}, {"finish_reason", msgFinishField}} {
		if fd := msg.ByName(protoreflect.Name(f.name)); fd == nil || fd.Number() != f.num || fd.Kind() != protoreflect.StringKind {
			t.Errorf("Message.%s is not string field %d", f.name, f.num)
		}
	}
	// Messages with empty fields and a nil message decode as proto does.
	in := &eventpb.Event{Prompt: []*eventpb.Message{{Role: "user"}, {}, {Content: "x", FinishReason: "stop"}}, Context: []string{"", "d"}}
	b, err := marshalEvent(nil, in)
	must(t, err, "marshalEvent")
	out := &eventpb.Event{}
	must(t, proto.Unmarshal(b, out), "unmarshal")
	if !proto.Equal(in, out) {
		t.Errorf("round trip: got %v, want %v", out, in)
	}
}
