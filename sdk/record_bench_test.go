package sdk

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/sightline-dev/sightline/schemas/eventpb"
)

// benchCall is one finished chat call with ~1 KB of prompt and completion.
func benchCall() Call {
	prompt := strings.Repeat("Summarize the customer's complaint about the late delivery. ", 9)      // ~540 B
	answer := strings.Repeat("The customer says the parcel arrived five days late and damaged. ", 8) // ~520 B
	return Call{
		Start: time.Now(), Duration: 812 * time.Millisecond, TTFT: 120 * time.Millisecond,
		Provider: "openai", Operation: "chat", RequestModel: "gpt-4o", Model: "gpt-4o-2024-08-06",
		Prompt:      []Message{{Role: "system", Content: "You are a support assistant."}, {Role: "user", Content: prompt}},
		Completion:  []Message{{Role: "assistant", Content: answer, FinishReason: "stop"}},
		InputTokens: 142, OutputTokens: 131, CostUSD: 0.0016,
		ConversationID: "conv-123", UserID: "user-9", Variant: "control",
		Segments: map[string]string{"user.locale": "de-DE"},
	}
}

// newQueueClient is a client without a background producer: the benchmark
// empties the queue itself with the timer stopped, every half queue, so it
// measures exactly what the application's goroutine pays to record a call
// when the queue has room (never the cheaper drop path).
func newQueueClient() *Client {
	cfg := defaultCfg()
	cfg.app = "bench"
	return &Client{cfg: cfg, queue: make(chan item, 1<<14), stop: make(chan struct{}), done: make(chan struct{})}
}

func drain(b *testing.B, c *Client, i int) {
	if i%(1<<13) != 0 {
		return
	}
	b.StopTimer()
	for len(c.queue) > 0 {
		<-c.queue
	}
	b.StartTimer()
}

// BenchmarkRecord: the application goroutine's cost of recording one
// finished call (~1 KB of prompt and completion), up to the call being
// queued for the background producer.
func BenchmarkRecord(b *testing.B) {
	c := newQueueClient()
	call := benchCall()
	b.ReportAllocs()
	b.SetBytes(int64(len(call.Prompt[1].Content) + len(call.Completion[0].Content)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		drain(b, c, i)
		c.Record(&call)
	}
	b.StopTimer()
	if d := c.dropped.Load(); d > 0 {
		b.Fatalf("%d calls were dropped: the benchmark must measure the queued path", d)
	}
}

// BenchmarkHookFinish: Start + Finish around a call, the hook API.
func BenchmarkHookFinish(b *testing.B) {
	c := newQueueClient()
	call := benchCall()
	req := Request{Provider: "openai", Model: "gpt-4o", Prompt: call.Prompt, Variant: "control", Segments: call.Segments}
	resp := Response{Model: call.Model, Completion: call.Completion, InputTokens: 142, OutputTokens: 131}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		drain(b, c, i)
		h := c.Start(req)
		h.Finish(resp)
	}
	b.StopTimer()
	if d := c.dropped.Load(); d > 0 {
		b.Fatalf("%d calls were dropped", d)
	}
}

// BenchmarkOTelSpan: the same call recorded as an OpenTelemetry Go SDK span
// with the GenAI semantic-convention attributes and content, through a batch
// span processor (the production setting) to an exporter that discards.
// The message JSON is built once outside the loop, which favours OTel.
func BenchmarkOTelSpan(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))
	defer tp.Shutdown(context.Background())
	tr := tp.Tracer("bench")
	call := benchCall()
	in := `[{"role":"system","parts":[{"type":"text","content":"You are a support assistant."}]},{"role":"user","parts":[{"type":"text","content":"` + call.Prompt[1].Content + `"}]}]`
	out := `[{"role":"assistant","parts":[{"type":"text","content":"` + call.Completion[0].Content + `"}],"finish_reason":"stop"}]`
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(int64(len(call.Prompt[1].Content) + len(call.Completion[0].Content)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, span := tr.Start(ctx, "chat gpt-4o", trace.WithSpanKind(trace.SpanKindClient))
		span.SetAttributes(
			attribute.String("gen_ai.operation.name", "chat"),
			attribute.String("gen_ai.provider.name", "openai"),
			attribute.String("gen_ai.request.model", "gpt-4o"),
			attribute.String("gen_ai.response.model", "gpt-4o-2024-08-06"),
			attribute.Int("gen_ai.usage.input_tokens", 142),
			attribute.Int("gen_ai.usage.output_tokens", 131),
			attribute.StringSlice("gen_ai.response.finish_reasons", []string{"stop"}),
			attribute.String("gen_ai.conversation.id", "conv-123"),
			attribute.String("gen_ai.input.messages", in),
			attribute.String("gen_ai.output.messages", out),
			attribute.String("user.locale", "de-DE"),
		)
		span.End()
	}
}

// BenchmarkEncode: the background goroutine's cost per call (event
// building, truncation, validation, protobuf encoding), off the
// application's goroutine.
func BenchmarkEncode(b *testing.B) {
	c := newQueueClient()
	call := benchCall()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := c.encode(&call, "0190c8e4-5a2b-7c3d-8e4f-0123456789ab"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeRedactPII: BenchmarkEncode with RedactPII (all kinds)
// configured, on a call whose prompt holds an e-mail address and whose ids,
// segments and attributes hold none (the common case).
func BenchmarkEncodeRedactPII(b *testing.B) {
	c := newQueueClient()
	r, err := RedactPII()
	if err != nil {
		b.Fatal(err)
	}
	c.cfg.redactor = r
	call := benchCall()
	call.Prompt = append([]Message{}, call.Prompt...)
	call.Prompt[1].Content += " Reply to jane.doe@example.com."
	call.Attributes = map[string]string{"feature": "support-chat", "ticket": "T-4821", "plan": "pro"}
	b.ReportAllocs()
	b.SetBytes(int64(len(call.Prompt[1].Content) + len(call.Completion[0].Content)))
	for i := 0; i < b.N; i++ {
		if _, err := c.encode(&call, "0190c8e4-5a2b-7c3d-8e4f-0123456789ab"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRedactPII: RedactPII (all kinds) alone on the event of
// BenchmarkEncodeRedactPII, the part of it that redaction costs.
func BenchmarkRedactPII(b *testing.B) {
	c := newQueueClient()
	r, err := RedactPII()
	if err != nil {
		b.Fatal(err)
	}
	call := benchCall()
	call.Prompt = append([]Message{}, call.Prompt...)
	call.Prompt[1].Content += " Reply to jane.doe@example.com."
	call.Attributes = map[string]string{"feature": "support-chat", "ticket": "T-4821", "plan": "pro"}
	// Redaction rewrites the event: each iteration gets a fresh one, built
	// with the timer stopped.
	evs := make([]*eventpb.Event, 1024)
	b.ReportAllocs()
	b.SetBytes(int64(len(call.Prompt[1].Content) + len(call.Completion[0].Content)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%len(evs) == 0 {
			b.StopTimer()
			for j := range evs {
				evs[j] = c.toEvent(&call, "0190c8e4-5a2b-7c3d-8e4f-0123456789ab")
			}
			b.StartTimer()
		}
		r.Redact(evs[i%len(evs)])
	}
}
