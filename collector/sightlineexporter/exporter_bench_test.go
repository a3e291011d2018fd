package sightlineexporter

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/exporter/kafkaexporter"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/sightline-dev/sightline/schemas/eventpb"
)

// benchSpans is the batch both exporters get: spansPerBatch LLM calls as
// instrumentations send them, with about 1.5 KB of prompt (a system
// instruction, two earlier turns, a question with retrieved text) and a
// few hundred bytes of answer each.
const spansPerBatch = 100

func benchTraces(style string) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	ra := rs.Resource().Attributes()
	ra.PutStr("service.name", "support-bot")
	ra.PutStr("service.version", "2.4.1")
	ra.PutStr("deployment.environment.name", "production")
	ra.PutStr("telemetry.sdk.language", "python")
	ra.PutStr("telemetry.sdk.name", "opentelemetry")
	ra.PutStr("telemetry.sdk.version", "1.38.0")
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("opentelemetry.instrumentation.openai_v2")
	ss.Scope().SetVersion("2.1b0")
	start := time.Date(2025, 10, 1, 12, 0, 0, 0, time.UTC)
	system := "You are a support assistant for an online electronics shop. Answer only from the policy excerpts given; if they do not cover the question, say so and offer to open a ticket."
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < spansPerBatch; i++ {
		// Text differs per span, as real prompts do, so compression and
		// the broker see realistic sizes.
		passage := prose(rnd, 120) + "\n\n" + prose(rnd, 80)
		answer := prose(rnd, 45)
		span := ss.Spans().AppendEmpty()
		var tid pcommon.TraceID
		copy(tid[:], fmt.Sprintf("%016d", i))
		span.SetTraceID(tid)
		span.SetSpanID(pcommon.SpanID{byte(i), 1, 2, 3, 4, 5, 6, 7})
		span.SetParentSpanID(pcommon.SpanID{byte(i), 9, 9, 9, 9, 9, 9, 9})
		span.SetName("chat gpt-4o-mini")
		span.SetKind(ptrace.SpanKindClient)
		s := start.Add(time.Duration(i) * time.Second)
		span.SetStartTimestamp(pcommon.NewTimestampFromTime(s))
		span.SetEndTimestamp(pcommon.NewTimestampFromTime(s.Add(1800 * time.Millisecond)))
		a := span.Attributes()
		question := "Question " + strconv.Itoa(i) + ": can I return the headphones I opened last week?"
		switch style {
		case "genai":
			a.PutStr("gen_ai.operation.name", "chat")
			a.PutStr("gen_ai.provider.name", "openai")
			a.PutStr("gen_ai.request.model", "gpt-4o-mini")
			a.PutDouble("gen_ai.request.temperature", 0.2)
			a.PutInt("gen_ai.request.max_tokens", 512)
			a.PutStr("gen_ai.response.model", "gpt-4o-mini-2024-07-18")
			a.PutStr("gen_ai.response.id", "chatcmpl-"+strconv.Itoa(i))
			a.PutInt("gen_ai.usage.input_tokens", 412)
			a.PutInt("gen_ai.usage.output_tokens", 48)
			a.PutEmptySlice("gen_ai.response.finish_reasons").AppendEmpty().SetStr("stop")
			a.PutStr("gen_ai.conversation.id", "conv-"+strconv.Itoa(i%10))
			a.PutStr("server.address", "api.openai.com")
			a.PutInt("server.port", 443)
			a.PutStr("gen_ai.system_instructions", mustJSON([]map[string]string{{"type": "text", "content": system}}))
			a.PutStr("gen_ai.input.messages", mustJSON([]map[string]any{
				{"role": "user", "parts": []map[string]string{{"type": "text", "content": "Hi, I bought headphones."}}},
				{"role": "assistant", "parts": []map[string]string{{"type": "text", "content": "Hello! How can I help with your headphones?"}}},
				{"role": "user", "parts": []map[string]string{{"type": "text", "content": "Policy excerpts:\n" + passage + "\n\n" + question}}},
			}))
			a.PutStr("gen_ai.output.messages", mustJSON([]map[string]any{
				{"role": "assistant", "parts": []map[string]string{{"type": "text", "content": answer}}, "finish_reason": "stop"},
			}))
		case "openllmetry":
			a.PutStr("llm.request.type", "chat")
			a.PutStr("gen_ai.system", "openai")
			a.PutStr("gen_ai.request.model", "gpt-4o-mini")
			a.PutDouble("gen_ai.request.temperature", 0.2)
			a.PutStr("gen_ai.response.model", "gpt-4o-mini-2024-07-18")
			a.PutStr("gen_ai.response.id", "chatcmpl-"+strconv.Itoa(i))
			a.PutInt("gen_ai.usage.prompt_tokens", 412)
			a.PutInt("gen_ai.usage.completion_tokens", 48)
			a.PutInt("llm.usage.total_tokens", 460)
			a.PutStr("gen_ai.prompt.0.role", "system")
			a.PutStr("gen_ai.prompt.0.content", system)
			a.PutStr("gen_ai.prompt.1.role", "user")
			a.PutStr("gen_ai.prompt.1.content", "Hi, I bought headphones.")
			a.PutStr("gen_ai.prompt.2.role", "assistant")
			a.PutStr("gen_ai.prompt.2.content", "Hello! How can I help with your headphones?")
			a.PutStr("gen_ai.prompt.3.role", "user")
			a.PutStr("gen_ai.prompt.3.content", "Policy excerpts:\n"+passage+"\n\n"+question)
			a.PutStr("gen_ai.completion.0.role", "assistant")
			a.PutStr("gen_ai.completion.0.content", answer)
			a.PutStr("gen_ai.completion.0.finish_reason", "stop")
		}
	}
	return td
}

var words = strings.Fields(`the a return refund item order within days delivery fee restocking faulty
	electronics headphones policy customer receipt warranty opened unopened store online shipping label
	exchange credit card account days week month original packaging accessories damaged condition
	support ticket replacement repair serial number invoice price discount policy applies unless
	eligible request approve process contact team email phone chat business hours weekend holiday`)

// prose returns n words of plausible support text.
func prose(rnd *rand.Rand, n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			if i%12 == 0 {
				b.WriteString(". ")
			} else {
				b.WriteByte(' ')
			}
		}
		b.WriteString(words[rnd.IntN(len(words))])
	}
	b.WriteByte('.')
	return b.String()
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func reportSpans(b *testing.B) {
	spans := float64(b.N) * spansPerBatch
	b.ReportMetric(spans/b.Elapsed().Seconds(), "spans/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/spans, "ns/span")
}

// BenchmarkTranslate is the exporter's own work per batch: recognize the
// calls, map them and encode the events, without a broker.
func BenchmarkTranslate(b *testing.B) {
	for _, style := range []string{"genai", "openllmetry"} {
		b.Run(style, func(b *testing.B) {
			tel, _ := newTelemetry(nil)
			tr := translator{tel: tel}
			td := benchTraces(style)
			var (
				buf    []byte
				bounds []int
				evs    []*eventpb.Event
				a      arena // reused per push, as the exporter does
			)
			b.ReportAllocs()
			for b.Loop() {
				evs = tr.tracesIn(&a, td, evs[:0])
				buf, bounds = encode(buf[:0], bounds[:0], evs, DefaultMaxEventBytes, tel)
				a.reset()
			}
			if len(bounds) != 2*spansPerBatch {
				b.Fatalf("%d events", len(bounds)/2)
			}
			b.SetBytes(int64(len(buf)))
			reportSpans(b)
		})
	}
}

// exportBench is one exporter under test in BenchmarkExport and
// BenchmarkExportParallel.
type exportBench struct {
	name   string
	create func(brokers []string) (exporter.Traces, error)
}

// BenchmarkExport pushes the same batches through the sightline exporter
// and the contrib kafkaexporter (OTLP protobuf, franz-go too) to the same
// in-process broker, each through its factory and exporterhelper with the
// queue off, so a push returns when the broker acknowledged it. Each
// sub-benchmark gets a broker of its own: the in-process broker keeps
// every batch in memory, and one shared across sub-benchmarks would make
// whichever runs later pay for a larger log.
func BenchmarkExport(b *testing.B) {
	ctx := context.Background()
	for _, style := range []string{"genai", "openllmetry"} {
		td := benchTraces(style)
		for _, e := range benchExporters(ctx) {
			b.Run(style+"/"+e.name, func(b *testing.B) {
				exp := startBenchExporter(b, e)
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					if err := exp.ConsumeTraces(ctx, td); err != nil {
						b.Fatal(err)
					}
				}
				reportSpans(b)
			})
		}
	}
}

// BenchmarkExportParallel is BenchmarkExport with pushes from GOMAXPROCS
// goroutines at once, as exporterhelper's queue consumers push when the
// collector is busy: every core is used, so the figure is about the CPU a
// span costs rather than the latency of one push.
func BenchmarkExportParallel(b *testing.B) {
	ctx := context.Background()
	td := benchTraces("genai")
	for _, e := range benchExporters(ctx) {
		b.Run("genai/"+e.name, func(b *testing.B) {
			exp := startBenchExporter(b, e)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := exp.ConsumeTraces(ctx, td); err != nil {
						b.Error(err)
						return
					}
				}
			})
			reportSpans(b)
		})
	}
}

// startBenchExporter starts e against a broker of its own and makes one
// push so the connection is up before timing.
func startBenchExporter(b *testing.B, e exportBench) exporter.Traces {
	ctx := context.Background()
	brk := startBroker(b)
	exp, err := e.create(brk.Addrs())
	if err != nil {
		b.Fatal(err)
	}
	if err := exp.Start(ctx, componenttest.NewNopHost()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { exp.Shutdown(ctx) })
	if err := exp.ConsumeTraces(ctx, benchTraces("genai")); err != nil {
		b.Fatal(err)
	}
	return exp
}

func benchExporters(ctx context.Context) []exportBench {
	return []exportBench{
		{"sightline", func(brokers []string) (exporter.Traces, error) {
			cfg := testConfig(brokers)
			return NewFactory().CreateTraces(ctx, exportertest.NewNopSettings(Type), cfg)
		}},
		{"sightline_uncompressed", func(brokers []string) (exporter.Traces, error) {
			cfg := testConfig(brokers)
			cfg.Compression = "none"
			return NewFactory().CreateTraces(ctx, exportertest.NewNopSettings(Type), cfg)
		}},
		{"kafkaexporter", func(brokers []string) (exporter.Traces, error) {
			f := kafkaexporter.NewFactory()
			cfg := f.CreateDefaultConfig().(*kafkaexporter.Config)
			cfg.ClientConfig.Brokers = brokers
			cfg.QueueBatchConfig = configoptional.None[exporterhelper.QueueBatchConfig]()
			return f.CreateTraces(ctx, exportertest.NewNopSettings(f.Type()), cfg)
		}},
		{"kafkaexporter_lz4", func(brokers []string) (exporter.Traces, error) {
			f := kafkaexporter.NewFactory()
			cfg := f.CreateDefaultConfig().(*kafkaexporter.Config)
			cfg.ClientConfig.Brokers = brokers
			cfg.Producer.Compression = "lz4"
			cfg.QueueBatchConfig = configoptional.None[exporterhelper.QueueBatchConfig]()
			return f.CreateTraces(ctx, exportertest.NewNopSettings(f.Type()), cfg)
		}},
	}
}

// benchPayloads are the bytes each exporter hands franz-go for one push of
// benchTraces("genai"): Sightline's events (and where each ends) and the
// kafkaexporter's single OTLP record.
func benchPayloads(b *testing.B) (events []byte, bounds []int, otlp []byte) {
	tel, _ := newTelemetry(nil)
	tr := translator{tel: tel}
	td := benchTraces("genai")
	events, bounds = encode(nil, nil, tr.traces(td, nil), DefaultMaxEventBytes, tel)
	otlp, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	if err != nil {
		b.Fatal(err)
	}
	return events, bounds, otlp
}

// BenchmarkCompress compresses one push's bytes as franz-go does for a
// batch: Sightline's events and the kafkaexporter's OTLP of the same spans.
func BenchmarkCompress(b *testing.B) {
	events, _, otlp := benchPayloads(b)
	for _, codec := range []struct {
		name  string
		codec kgo.CompressionCodec
	}{{"lz4", kgo.Lz4Compression()}, {"zstd", kgo.ZstdCompression()}, {"snappy", kgo.SnappyCompression()}} {
		c, err := kgo.DefaultCompressor(codec.codec)
		if err != nil {
			b.Fatal(err)
		}
		for _, p := range []struct {
			name string
			data []byte
		}{{"sightline", events}, {"otlp", otlp}} {
			b.Run(codec.name+"/"+p.name, func(b *testing.B) {
				var buf bytes.Buffer
				var out []byte
				b.SetBytes(int64(len(p.data)))
				for b.Loop() {
					buf.Reset()
					out, _ = c.Compress(&buf, p.data)
				}
				b.ReportMetric(float64(len(out)), "compressed-bytes")
			})
		}
	}
}

// BenchmarkProduceRecords produces the same bytes through franz-go to the
// in-process broker as one record per event (what the exporter does), as
// one record, and the OTLP bytes as one record (what the kafkaexporter
// does): the cost of a record per event, apart from translation.
func BenchmarkProduceRecords(b *testing.B) {
	events, bounds, otlp := benchPayloads(b)
	for _, comp := range []string{"lz4", "none"} {
		for _, shape := range []string{"event_per_record", "one_record", "otlp_one_record"} {
			b.Run(comp+"/"+shape, func(b *testing.B) {
				brk := startBroker(b)
				cfg := testConfig(brk.Addrs())
				cfg.Compression = comp
				opts, err := kafkaOpts(context.Background(), cfg, nil)
				must(b, err, "options")
				kcl, err := kgo.NewClient(opts...)
				must(b, err, "client")
				defer kcl.Close()
				records := func() []*kgo.Record {
					switch shape {
					case "one_record":
						return []*kgo.Record{{Topic: cfg.Topic, Value: events}}
					case "otlp_one_record":
						return []*kgo.Record{{Topic: cfg.Topic, Value: otlp}}
					}
					rs := make([]*kgo.Record, len(bounds)/2)
					for i := range rs {
						rs[i] = &kgo.Record{Topic: cfg.Topic, Value: events[bounds[2*i]:bounds[2*i+1]]}
					}
					return rs
				}
				must(b, kcl.ProduceSync(context.Background(), records()...).FirstErr(), "first produce")
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					if err := kcl.ProduceSync(context.Background(), records()...).FirstErr(); err != nil {
						b.Fatal(err)
					}
				}
				reportSpans(b)
			})
		}
	}
}

// benchJoinExporter is an exporter with joining on (or off) whose
// produce only counts, for BenchmarkJoin.
func benchJoinExporter(b *testing.B, join bool) (*sightlineExporter, *int) {
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	cfg.Brokers = []string{"127.0.0.1:1"}
	tel, _ := newTelemetry(nil)
	e := &sightlineExporter{cfg: cfg, tel: tel, tr: translator{tel: tel}}
	n := new(int)
	e.send = func(_ context.Context, evs []*eventpb.Event) error {
		*n += len(evs)
		return nil
	}
	if join {
		e.enableJoin()
	}
	return e, n
}

// BenchmarkJoin is a push of spansPerBatch calls through the exporter with
// a produce that only counts: "genai" the spans with their content (they
// pass the joiner at once; "off" is the same without joining), "otel_js"
// each call as @opentelemetry/instrumentation-openai sends it, a span
// without content and three log records (system, user, choice), logs
// first, merged and produced by the flusher's work. Ids differ per push,
// as a stream of calls has them.
func BenchmarkJoin(b *testing.B) {
	ctx := context.Background()
	setIDs := func(td ptrace.Traces, push int) {
		spans := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
		for i := 0; i < spans.Len(); i++ {
			spans.At(i).SetSpanID(pcommon.SpanID{byte(push >> 16), byte(push >> 8), byte(push), byte(i), 1})
		}
	}
	for _, join := range []bool{false, true} {
		name := "genai/off"
		if join {
			name = "genai/on"
		}
		b.Run(name, func(b *testing.B) {
			e, n := benchJoinExporter(b, join)
			td := benchTraces("genai")
			b.ReportAllocs()
			push := 0
			for b.Loop() {
				setIDs(td, push)
				push++
				if err := e.pushTraces(ctx, td); err != nil {
					b.Fatal(err)
				}
			}
			if *n != push*spansPerBatch {
				b.Fatalf("%d events from %d pushes", *n, push)
			}
			reportSpans(b)
		})
	}
	b.Run("otel_js/on", func(b *testing.B) {
		e, n := benchJoinExporter(b, true)
		td, ld := benchOtelJS()
		b.ReportAllocs()
		push := 0
		for b.Loop() {
			setIDs(td, push)
			recs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
			for i := 0; i < recs.Len(); i++ {
				recs.At(i).SetSpanID(pcommon.SpanID{byte(push >> 16), byte(push >> 8), byte(push), byte(i / 3), 1})
			}
			push++
			if err := e.pushLogs(ctx, ld); err != nil {
				b.Fatal(err)
			}
			if err := e.pushTraces(ctx, td); err != nil {
				b.Fatal(err)
			}
			if err := e.flushReady(ctx); err != nil {
				b.Fatal(err)
			}
		}
		if *n != push*spansPerBatch {
			b.Fatalf("%d events from %d pushes", *n, push)
		}
		reportSpans(b)
	})
}

// benchOtelJS is spansPerBatch calls as @opentelemetry/instrumentation-openai
// sends them: spans without content, and per call three log records.
func benchOtelJS() (ptrace.Traces, plog.Logs) {
	td := ptrace.NewTraces()
	ld := plog.NewLogs()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "support-bot")
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "support-bot")
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("@opentelemetry/instrumentation-openai")
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName("@opentelemetry/instrumentation-openai")
	rnd := rand.New(rand.NewPCG(1, 2))
	start := time.Date(2025, 10, 1, 12, 0, 0, 0, time.UTC)
	for i := 0; i < spansPerBatch; i++ {
		var tid pcommon.TraceID
		copy(tid[:], fmt.Sprintf("%016d", i))
		s := ss.Spans().AppendEmpty()
		s.SetTraceID(tid)
		t0 := start.Add(time.Duration(i) * time.Second)
		s.SetStartTimestamp(pcommon.NewTimestampFromTime(t0))
		s.SetEndTimestamp(pcommon.NewTimestampFromTime(t0.Add(1800 * time.Millisecond)))
		a := s.Attributes()
		a.PutStr("gen_ai.operation.name", "chat")
		a.PutStr("gen_ai.system", "openai")
		a.PutStr("gen_ai.request.model", "gpt-4o-mini")
		a.PutStr("gen_ai.response.model", "gpt-4o-mini-2024-07-18")
		a.PutInt("gen_ai.usage.input_tokens", 412)
		a.PutInt("gen_ai.usage.output_tokens", 48)
		a.PutEmptySlice("gen_ai.response.finish_reasons").AppendEmpty().SetStr("stop")
		for j, ev := range []string{"gen_ai.system.message", "gen_ai.user.message", "gen_ai.choice"} {
			lr := sl.LogRecords().AppendEmpty()
			lr.SetTraceID(tid)
			lr.SetTimestamp(pcommon.NewTimestampFromTime(t0.Add(time.Duration(j) * time.Millisecond)))
			lr.Attributes().PutStr("event.name", ev)
			lr.Attributes().PutStr("gen_ai.system", "openai")
			body := lr.Body().SetEmptyMap()
			switch j {
			case 0:
				body.PutStr("content", "You are a support assistant for an online electronics shop.")
			case 1:
				body.PutStr("content", "Policy excerpts:\n"+prose(rnd, 200)+"\n\nCan I return opened headphones?")
			case 2:
				body.PutStr("finish_reason", "stop")
				body.PutInt("index", 0)
				body.PutEmptyMap("message").PutStr("content", prose(rnd, 45))
			}
		}
	}
	return td, ld
}
