package sightlineexporter

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

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
	// A batch sent again (a client's retry) is recognized: its calls were
	// produced, and are not produced twice.
	again := readTraces(t, "genai_current.json")
	must(t, te.ConsumeTraces(ctx, again), "export again")

	must(t, te.Shutdown(ctx), "shutdown traces exporter")
	// The details record's span never came: the logs exporter's shutdown
	// produces it as a call of its own.
	must(t, le.Shutdown(ctx), "shutdown logs exporter")

	kcl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...), kgo.ConsumeTopics(broker.TopicEvents),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	must(t, err, "consumer")
	defer kcl.Close()
	var got []string
	for len(got) < len(want) {
		fetches := kcl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("got %d of %d records: %v", len(got), len(want), err)
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
	// Nothing more: the batch sent again was not produced again.
	pctx, pcancel := context.WithTimeout(ctx, time.Second)
	defer pcancel()
	kcl.PollFetches(pctx).EachRecord(func(r *kgo.Record) {
		ev, _ := schemas.Decode(r.Value)
		got = append(got, ev.GetEventId())
	})
	seen := map[string]int{}
	for _, id := range got {
		seen[id]++
	}
	for _, id := range want {
		if seen[id] == 0 {
			t.Errorf("event %s not produced", id)
		}
	}
	if len(seen) != len(want) || len(got) != len(want) {
		sort.Strings(got)
		t.Errorf("%d records, %d distinct ids, want %d: %v", len(got), len(seen), len(want), got)
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

// TestHandEncodedFields: marshalEvent writes fields by number; a schema
// change must show up here rather than as silently missing data.
func TestHandEncodedFields(t *testing.T) {
	unhandledNames := map[string]bool{"ttft_ms": true, "cost_usd": true, "prompt_template": true,
		"reference": true, "segments": true, "embedding": true, "kind": true, "feedback": true}
	fields := (&eventpb.Event{}).ProtoReflect().Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		name := string(fd.Name())
		num, ok := handEncoded[name]
		switch {
		case ok && fd.Number() != num:
			t.Errorf("Event.%s is field %d, marshalEvent writes it as %d", name, fd.Number(), num)
		case !ok && !unhandledNames[name]:
			t.Errorf("Event.%s (field %d) is new: marshalEvent must write it or pass it on in unhandled", name, fd.Number())
		}
	}
	if got, want := fields.Len(), len(handEncoded)+len(unhandledNames); got != want {
		t.Errorf("Event has %d fields, the encoder knows %d", got, want)
	}
	check := func(m proto.Message, want map[string]protowire.Number) {
		t.Helper()
		fs := m.ProtoReflect().Descriptor().Fields()
		if fs.Len() != len(want) {
			t.Errorf("%s has %d fields, marshalEvent writes %d", m.ProtoReflect().Descriptor().Name(), fs.Len(), len(want))
		}
		for name, num := range want {
			if fd := fs.ByName(protoreflect.Name(name)); fd == nil || fd.Number() != num {
				t.Errorf("%s.%s is not field %d", m.ProtoReflect().Descriptor().Name(), name, num)
			}
		}
	}
	check(&eventpb.Message{}, map[string]protowire.Number{"role": msgRole, "content": msgContent, "finish_reason": msgFinish})
	check(&eventpb.Error{}, map[string]protowire.Number{"type": pairFirst, "message": pairSecond})
	check(&eventpb.SDK{}, map[string]protowire.Number{"name": pairFirst, "version": pairSecond})
	check(&timestamppb.Timestamp{}, map[string]protowire.Number{"seconds": tsSeconds, "nanos": tsNanos})

	// Every field set, odd values included: the hand-written part and the
	// runtime's part together decode to the same event.
	ttft := 12.5
	full := &eventpb.Event{
		SchemaVersion: 1, EventId: "0190d9a2-0000-7000-8000-000000000000", Tenant: "t", App: "a", Environment: "e",
		Ts: &timestamppb.Timestamp{Seconds: -5, Nanos: -7}, DurationMs: -0.5, TtftMs: &ttft,
		Provider: "p", Operation: "o", RequestModel: "rm", Model: "m",
		Prompt:      []*eventpb.Message{{Role: "user"}, {}, {Content: "x", FinishReason: "stop"}, {Role: "system", Content: "ünï"}},
		Completion:  []*eventpb.Message{{Role: "assistant", Content: strings.Repeat("y", 300), FinishReason: "length"}},
		InputTokens: 1 << 40, OutputTokens: -3, CostUsd: 0.25, Error: &eventpb.Error{Message: "m"},
		TraceId: "tr", SpanId: "sp", ConversationId: "c", UserId: "u",
		PromptTemplate: &eventpb.PromptTemplate{Id: "i", Version: "v"}, Variant: "B",
		Context: []string{"", "d"}, Reference: "r", Segments: map[string]string{"k": ""},
		Embedding: []float32{1, 2}, Attributes: map[string]string{"": "", "k": "v"},
		Sdk: &eventpb.SDK{Name: "n"}, Truncated: true, ResponseId: "resp", Kind: eventpb.Kind_KIND_FEEDBACK,
		Feedback: &eventpb.Feedback{EventId: "f", Score: 1},
	}
	onlyHandled := proto.Clone(full).(*eventpb.Event)
	onlyHandled.TtftMs, onlyHandled.CostUsd, onlyHandled.PromptTemplate, onlyHandled.Reference = nil, 0, nil, ""
	onlyHandled.Segments, onlyHandled.Embedding, onlyHandled.Kind, onlyHandled.Feedback = nil, nil, 0, nil
	for _, in := range []*eventpb.Event{full, onlyHandled, {}} {
		b, err := marshalEvent(nil, in)
		must(t, err, "marshalEvent")
		out := &eventpb.Event{}
		must(t, proto.Unmarshal(b, out), "unmarshal")
		if !proto.Equal(in, out) {
			t.Errorf("round trip: got %v, want %v", out, in)
		}
		if want := proto.Size(in); len(b) != want {
			t.Errorf("encoded %d bytes, the runtime encodes %d", len(b), want)
		}
	}
}

// TestConcurrentPushes pushes different batches from several goroutines
// through one exporter, as exporterhelper's queue consumers do. Each push
// allocates from an arena that the next push reuses: every event read
// back must equal what a translator with fresh memory makes of its batch.
func TestConcurrentPushes(t *testing.T) {
	b := startBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	exp, err := NewFactory().CreateTraces(ctx, exportertest.NewNopSettings(Type), testConfig(b.Addrs()))
	must(t, err, "create exporter")
	must(t, exp.Start(ctx, componenttest.NewNopHost()), "start")

	const workers, pushes = 4, 15
	batches := make([]ptrace.Traces, workers*pushes)
	want := map[string]*eventpb.Event{}
	tr, _ := newTestTranslator(t)
	for i := range batches {
		td := benchTraces([]string{"genai", "openllmetry"}[i%2])
		// Distinct ids and text per batch, so a string from another push
		// would show.
		spans := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
		for j := 0; j < spans.Len(); j++ {
			s := spans.At(j)
			s.SetSpanID(pcommon.SpanID{byte(i), byte(j), 7, 7, 7, 7, 7, 7})
			s.Attributes().PutStr("gen_ai.conversation.id", "conv-"+strconv.Itoa(i)+"-"+strconv.Itoa(j))
			s.Attributes().PutInt("gen_ai.request.seed", int64(i*1000+j))
		}
		batches[i] = td
		for _, ev := range tr.traces(td, nil) {
			want[ev.EventId] = ev
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for p := 0; p < pushes; p++ {
				if err := exp.ConsumeTraces(ctx, batches[w*pushes+p]); err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	must(t, exp.Shutdown(ctx), "shutdown")

	kcl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...), kgo.ConsumeTopics(broker.TopicEvents),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	must(t, err, "consumer")
	defer kcl.Close()
	seen := 0
	for seen < len(want) {
		fetches := kcl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %d of %d events: %v", seen, len(want), err)
		}
		for _, rec := range fetches.Records() {
			ev, err := schemas.Decode(rec.Value)
			must(t, err, "decode")
			w, ok := want[ev.EventId]
			if !ok {
				t.Fatalf("unexpected event %s", ev.EventId)
			}
			if !proto.Equal(ev, w) {
				t.Fatalf("event %s differs from a fresh translation:\ngot  %v\nwant %v", ev.EventId, ev, w)
			}
			seen++
		}
	}
}

// readEvents reads n events from the broker's events topic.
func readEvents(t *testing.T, ctx context.Context, brokers []string, n int) []*eventpb.Event {
	t.Helper()
	kcl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(broker.TopicEvents),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	must(t, err, "consumer")
	defer kcl.Close()
	var out []*eventpb.Event
	for len(out) < n {
		fetches := kcl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %d of %d events: %v", len(out), n, err)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			ev, err := schemas.Decode(r.Value)
			must(t, err, "decode")
			out = append(out, ev)
		})
	}
	return out
}

// TestJoinAcrossPipelines runs the exporter as the collector does when it
// is in both pipelines: the traces and logs exporters of one component ID
// share the join, the flusher produces a call as soon as its span and log
// events met (long before the wait ends), and shutdown produces what still
// waits. Exporters of another ID, or of another factory, share nothing.
func TestJoinAcrossPipelines(t *testing.T) {
	b := startBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := testConfig(b.Addrs())
	cfg.Join.Wait = time.Minute
	f := NewFactory()
	set := exportertest.NewNopSettings(Type)
	te, err := f.CreateTraces(ctx, set, cfg)
	must(t, err, "create traces exporter")
	le, err := f.CreateLogs(ctx, set, cfg)
	must(t, err, "create logs exporter")
	host := componenttest.NewNopHost()
	must(t, te.Start(ctx, host), "start traces exporter")
	must(t, le.Start(ctx, host), "start logs exporter")

	must(t, le.ConsumeLogs(ctx, readLogs(t, "otel_js_openai.json")), "logs")
	must(t, te.ConsumeTraces(ctx, readTraces(t, "otel_js_openai.json")), "traces")
	joined := readEvents(t, ctx, b.Addrs(), 2)
	for _, ev := range joined {
		if len(ev.Prompt) == 0 || len(ev.Completion) == 0 || ev.Completion[0].FinishReason != "stop" || ev.InputTokens == 0 {
			t.Errorf("call not joined: %v", ev)
		}
	}
	// Waits a minute for its span; shutdown must not lose it.
	must(t, le.ConsumeLogs(ctx, readLogs(t, "logs_details.json")), "details")
	must(t, te.Shutdown(ctx), "shutdown traces exporter")
	must(t, le.Shutdown(ctx), "shutdown logs exporter")
	held := 0
	for _, ev := range readEvents(t, ctx, b.Addrs(), 3) {
		if ev.RequestModel == "gpt-4.1" && len(ev.Prompt) == 2 {
			held++
		}
	}
	if held != 1 {
		t.Errorf("held call produced %d times at shutdown, want 1", held)
	}

	// Other IDs, or another factory: no joining, each half as it is
	// (the log events name no model).
	other := exportertest.NewNopSettings(Type)
	other.ID = component.MustNewIDWithName(Type.String(), "other")
	for _, pair := range []struct {
		tf, lf     exporter.Factory
		tset, lset exporter.Settings
		what       string
	}{
		{f, f, set, other, "another ID"},
		{NewFactory(), NewFactory(), set, set, "another factory"},
	} {
		te, err := pair.tf.CreateTraces(ctx, pair.tset, cfg)
		must(t, err, "create traces exporter")
		le, err := pair.lf.CreateLogs(ctx, pair.lset, cfg)
		must(t, err, "create logs exporter")
		must(t, te.Start(ctx, host), "start")
		must(t, le.Start(ctx, host), "start")
		must(t, le.ConsumeLogs(ctx, readLogs(t, "otel_js_openai.json")), "logs")
		must(t, te.ConsumeTraces(ctx, readTraces(t, "otel_js_openai.json")), "traces")
		must(t, te.Shutdown(ctx), "shutdown")
		must(t, le.Shutdown(ctx), "shutdown")
	}
	withContent := 0
	for _, ev := range readEvents(t, ctx, b.Addrs(), 3+4) {
		if len(ev.Prompt) != 0 {
			withContent++
		}
	}
	if withContent != 3 {
		t.Errorf("%d calls with content, want the 3 of the shared exporter: joined across exporters that share nothing", withContent)
	}
}

// TestJoinFlusherProducesExpired: a span whose log events never come is
// produced by the flusher when its wait ends, not only at shutdown.
func TestJoinFlusherProducesExpired(t *testing.T) {
	b := startBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := testConfig(b.Addrs())
	cfg.Join.Wait = 300 * time.Millisecond
	f := NewFactory()
	set := exportertest.NewNopSettings(Type)
	te, err := f.CreateTraces(ctx, set, cfg)
	must(t, err, "create traces exporter")
	le, err := f.CreateLogs(ctx, set, cfg)
	must(t, err, "create logs exporter")
	host := componenttest.NewNopHost()
	must(t, te.Start(ctx, host), "start traces exporter")
	must(t, le.Start(ctx, host), "start logs exporter")
	defer le.Shutdown(ctx)
	defer te.Shutdown(ctx)

	start := time.Now()
	must(t, te.ConsumeTraces(ctx, readTraces(t, "otel_js_openai.json")), "traces")
	evs := readEvents(t, ctx, b.Addrs(), 2)
	if d := time.Since(start); d < cfg.Join.Wait {
		t.Errorf("produced after %s, before the wait of %s ended", d, cfg.Join.Wait)
	}
	for _, ev := range evs {
		if len(ev.Completion) != 0 || ev.InputTokens == 0 {
			t.Errorf("span-only call: %v", ev)
		}
	}
}
