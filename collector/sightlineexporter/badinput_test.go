package sightlineexporter

import (
	"context"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/protobuf/proto"

	"github.com/sightline-dev/sightline/schemas"
	"github.com/sightline-dev/sightline/schemas/eventpb"
)

// oneSpan returns traces holding one span with the attributes set by fill.
func oneSpan(fill func(pcommon.Map)) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "bad-input")
	span := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	span.SetTraceID(pcommon.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	span.SetSpanID(pcommon.SpanID{1, 2, 3, 4, 5, 6, 7, 8})
	start := time.Date(2025, 10, 1, 12, 0, 0, 0, time.UTC)
	span.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
	span.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Second)))
	fill(span.Attributes())
	return td
}

func chatAttrs(a pcommon.Map) {
	a.PutStr("gen_ai.operation.name", "chat")
	a.PutStr("gen_ai.provider.name", "openai")
	a.PutStr("gen_ai.request.model", "gpt-4o-mini")
}

// TestBadInput feeds data that cannot be mapped as sent: nothing crashes,
// each problem is counted, and what can be kept is kept.
func TestBadInput(t *testing.T) {
	huge := strings.Repeat("lorem ipsum ", 100_000) // 1.2 MB
	cases := []struct {
		name      string
		fill      func(pcommon.Map)
		events    int
		issue     string
		drop      string
		checkFunc func(t *testing.T, tr *translator, td ptrace.Traces)
	}{
		{name: "token counts as numeric strings", events: 1, issue: "token_count_type", fill: func(a pcommon.Map) {
			chatAttrs(a)
			a.PutStr("gen_ai.usage.input_tokens", "112")
			a.PutStr("gen_ai.usage.output_tokens", "21")
		}, checkFunc: func(t *testing.T, tr *translator, td ptrace.Traces) {
			ev := tr.traces(td, nil)[0]
			if ev.InputTokens != 112 || ev.OutputTokens != 21 {
				t.Errorf("tokens = %d/%d, want 112/21", ev.InputTokens, ev.OutputTokens)
			}
		}},
		{name: "token counts as garbage", events: 1, issue: "token_count_type", fill: func(a pcommon.Map) {
			chatAttrs(a)
			a.PutStr("gen_ai.usage.input_tokens", "many")
			a.PutDouble("gen_ai.usage.output_tokens", 2.5)
			a.PutBool("gen_ai.usage.prompt_tokens", true)
		}},
		{name: "negative token count", events: 1, issue: "token_count_type", fill: func(a pcommon.Map) {
			chatAttrs(a)
			a.PutInt("gen_ai.usage.input_tokens", -5)
		}},
		{name: "invalid JSON in input messages", events: 1, issue: "invalid_messages", fill: func(a pcommon.Map) {
			chatAttrs(a)
			a.PutStr("gen_ai.input.messages", `[{"role":"user","parts":[{"type":"text","content":"hi"`)
			a.PutStr("gen_ai.output.messages", `{"role": 7}`)
		}, checkFunc: func(t *testing.T, tr *translator, td ptrace.Traces) {
			ev := tr.traces(td, nil)[0]
			if len(ev.Prompt) != 1 || !strings.Contains(ev.Prompt[0].Content, `"content":"hi"`) {
				t.Errorf("raw text of invalid messages not kept: %v", ev.Prompt)
			}
		}},
		{name: "messages of the wrong type", events: 1, issue: "invalid_messages", fill: func(a pcommon.Map) {
			chatAttrs(a)
			a.PutInt("gen_ai.input.messages", 42)
			a.PutStr("gen_ai.system_instructions", "[1, 2")
		}},
		{name: "missing model", events: 0, drop: "missing_model", fill: func(a pcommon.Map) {
			a.PutStr("gen_ai.operation.name", "chat")
			a.PutStr("gen_ai.input.messages", `[{"role":"user","parts":[{"type":"text","content":"hi"}]}]`)
		}},
		{name: "huge content", events: 1, issue: "truncated", fill: func(a pcommon.Map) {
			chatAttrs(a)
			a.PutInt("gen_ai.usage.input_tokens", 300000)
			a.PutStr("gen_ai.input.messages", `[{"role":"user","parts":[{"type":"text","content":"`+huge+`"}]}]`)
			a.PutStr("gen_ai.output.messages", `[{"role":"assistant","parts":[{"type":"text","content":"short"}]}]`)
		}, checkFunc: func(t *testing.T, tr *translator, td ptrace.Traces) {
			ev := tr.traces(td, nil)[0]
			if !ev.Truncated || len(ev.Prompt[0].Content) > schemas.MaxContentBytes {
				t.Errorf("not truncated: %d bytes", len(ev.Prompt[0].Content))
			}
			if ev.Model != "gpt-4o-mini" || ev.InputTokens != 300000 || ev.Completion[0].Content != "short" {
				t.Errorf("other fields lost: %v", ev)
			}
		}},
		{name: "huge attribute values", events: 1, issue: "truncated", fill: func(a pcommon.Map) {
			chatAttrs(a)
			for i := 0; i < 300; i++ {
				a.PutStr("gen_ai.custom."+strings.Repeat("k", i%7)+string(rune('a'+i%26))+itoa(i), "v")
			}
			a.PutStr("gen_ai.request.blob", huge)
			a.PutStr("gen_ai.response.model", strings.Repeat("m", 1000))
		}},
		{name: "index out of range", events: 1, issue: "index_out_of_range", fill: func(a pcommon.Map) {
			chatAttrs(a)
			a.PutStr("gen_ai.prompt.999999999.content", "x")
			a.PutStr("gen_ai.prompt.99999999999999999999999.content", "x")
			a.PutStr("gen_ai.prompt.0.content", "hello")
		}},
		{name: "invalid UTF-8", events: 1, fill: func(a pcommon.Map) {
			chatAttrs(a)
			a.PutStr("gen_ai.prompt.0.content", "caf\xe9")
			a.PutStr("gen_ai.conversation.id", "\xff\xfe")
		}, checkFunc: func(t *testing.T, tr *translator, td ptrace.Traces) {
			ev := tr.traces(td, nil)[0]
			if _, err := proto.Marshal(ev); err != nil {
				t.Errorf("event does not encode: %v", err)
			}
		}},
		{name: "empty and null-ish values", events: 1, fill: func(a pcommon.Map) {
			chatAttrs(a)
			a.PutEmpty("gen_ai.input.messages")
			a.PutStr("gen_ai.output.messages", "")
			a.PutEmptySlice("gen_ai.response.finish_reasons")
			a.PutStr("gen_ai.retrieval.documents", "null")
		}},
		{name: "missing service name", events: 1, fill: func(a pcommon.Map) {
			chatAttrs(a)
		}, checkFunc: func(t *testing.T, tr *translator, td ptrace.Traces) {
			td.ResourceSpans().At(0).Resource().Attributes().Remove("service.name")
			if ev := tr.traces(td, nil)[0]; ev.App != "unknown_service" {
				t.Errorf("app = %q", ev.App)
			}
			if tr.tel.stats().Issues["missing_service_name"] != 1 {
				t.Errorf("not counted: %+v", tr.tel.stats())
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr, tel := newTestTranslator(t)
			td := oneSpan(c.fill)
			evs := tr.traces(td, nil)
			if len(evs) != c.events {
				t.Fatalf("%d events, want %d", len(evs), c.events)
			}
			for _, ev := range evs {
				if err := schemas.Validate(ev); err != nil {
					t.Errorf("invalid event produced: %v", err)
				}
				b, err := proto.Marshal(ev)
				if err != nil {
					t.Fatalf("cannot encode: %v", err)
				}
				if _, err := schemas.Decode(b); err != nil {
					t.Errorf("score stage would reject: %v", err)
				}
			}
			st := tel.stats()
			if c.issue != "" && st.Issues[c.issue] == 0 {
				t.Errorf("issue %s not counted: %+v", c.issue, st)
			}
			if c.drop != "" && st.Dropped[c.drop] == 0 {
				t.Errorf("drop %s not counted: %+v", c.drop, st)
			}
			if c.checkFunc != nil {
				c.checkFunc(t, tr, td)
			}
		})
	}
}

// TestEncodeShrinks checks that an event over max_event_bytes is cut to
// fit, not dropped, and keeps its other fields.
func TestEncodeShrinks(t *testing.T) {
	tr, tel := newTestTranslator(t)
	big := strings.Repeat("x", 200_000)
	td := oneSpan(func(a pcommon.Map) {
		chatAttrs(a)
		a.PutInt("gen_ai.usage.output_tokens", 9)
		for i := 0; i < 8; i++ {
			a.PutStr("gen_ai.prompt."+itoa(i)+".content", big)
		}
	})
	evs := tr.traces(td, nil)
	const limit = 100_000
	b, bounds := encode(nil, nil, evs, limit, tel)
	if len(bounds) != 2 {
		t.Fatalf("event dropped: %+v", tel.stats())
	}
	rec := b[bounds[0]:bounds[1]]
	if len(rec) > limit {
		t.Fatalf("record of %d bytes over the limit %d", len(rec), limit)
	}
	ev, err := schemas.Decode(rec)
	if err != nil {
		t.Fatal(err)
	}
	if !ev.Truncated || len(ev.Prompt) != 8 || ev.OutputTokens != 9 || ev.Model == "" {
		t.Errorf("shrunk event lost fields: truncated=%v prompts=%d", ev.Truncated, len(ev.Prompt))
	}
}

// TestPerMessageLogsWithoutModel: older per-message log events carry no
// model; the call is dropped and counted, not fatal.
func TestPerMessageLogsWithoutModel(t *testing.T) {
	tr, tel := newTestTranslator(t)
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "x")
	lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetEventName("gen_ai.user.message")
	lr.Body().SetEmptyMap().PutStr("content", "hi")
	lr.Attributes().PutStr("gen_ai.system", "openai")
	if evs := tr.logs(ld, nil); len(evs) != 0 {
		t.Fatalf("%d events from a call without model", len(evs))
	}
	if tel.stats().Dropped["missing_model"] != 1 {
		t.Errorf("not counted: %+v", tel.stats())
	}
}

// TestNonLLMSpansIgnored: ordinary spans produce nothing and count nothing.
func TestNonLLMSpansIgnored(t *testing.T) {
	tr, tel := newTestTranslator(t)
	for _, fill := range []func(pcommon.Map){
		func(a pcommon.Map) {
			a.PutStr("http.request.method", "GET")
			a.PutInt("http.response.status_code", 200)
		},
		func(a pcommon.Map) {
			a.PutStr("gen_ai.operation.name", "embeddings")
			a.PutStr("gen_ai.request.model", "e5")
		},
		func(a pcommon.Map) {
			a.PutStr("gen_ai.operation.name", "invoke_agent")
			a.PutStr("gen_ai.request.model", "m")
		},
		func(a pcommon.Map) { a.PutStr("openinference.span.kind", "CHAIN"); a.PutStr("input.value", "q") },
	} {
		if evs := tr.traces(oneSpan(fill), nil); len(evs) != 0 {
			t.Errorf("non-call span produced %d events", len(evs))
		}
	}
	if st := tel.stats(); len(st.Issues)+len(st.Dropped) != 0 {
		t.Errorf("counted: %+v", st)
	}
}

// TestEventIDDeterministic: the same span gives the same id (collector
// retries deduplicate); another span another id.
func TestEventIDDeterministic(t *testing.T) {
	tr, _ := newTestTranslator(t)
	a := tr.traces(oneSpan(chatAttrs), nil)[0].EventId
	b := tr.traces(oneSpan(chatAttrs), nil)[0].EventId
	if a != b {
		t.Fatalf("ids differ: %s %s", a, b)
	}
	td := oneSpan(chatAttrs)
	td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).SetSpanID(pcommon.SpanID{9})
	if c := tr.traces(td, nil)[0].EventId; c == a {
		t.Fatal("different spans share an id")
	}
	if a[14] != '7' {
		t.Errorf("%s is not a UUIDv7", a)
	}
}

func FuzzMessages(f *testing.F) {
	for _, s := range []string{
		`[{"role":"user","parts":[{"type":"text","content":"hi"}]}]`,
		`[{"role":"assistant","content":[{"type":"text","text":"x"}],"finish_reason":"stop"}]`,
		`{"index":0,"message":{"role":"assistant","content":"y"}}`,
		`[{"type":"tool_call","name":"f","arguments":{"a":1}}]`,
		`plain text`, `[`, `{"parts":[{"type":"blob"}]}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		msgs, _ := messagesFromString(nil, s, "user", nil)
		for _, m := range msgs {
			if m == nil {
				t.Fatal("nil message")
			}
		}
		_, _ = documentsFromValue(pcommon.NewValueStr(s), nil)
	})
}

// FuzzSpan puts arbitrary text (invalid UTF-8 and broken JSON included)
// into every kind of attribute the translator reads. Whatever comes out
// must pass the full contract check, UTF-8 included, which the exporter
// itself leaves out on its hot path (schemas.ValidateFields), and must
// decode from marshalEvent's bytes to the same event.
func FuzzSpan(f *testing.F) {
	for _, s := range []string{
		`[{"role":"user","parts":[{"type":"text","content":"hi \u00e9\ud83d\ude00"}]}]`,
		`[{"role":"assistant","content":"a\"b\\c\n","finish_reason":"stop"}]`,
		"\xff\xfe bad \xc3", `[{"role":"\xff","parts":[{"type":"text","content":"\xc3("}]}]`,
		`[{"type":"tool_call","name":"f","arguments":{"a":1}}]`, `[`, ``,
	} {
		f.Add(s, s)
	}
	tel, _ := newTelemetry(nil)
	tr := translator{tel: tel}
	f.Fuzz(func(t *testing.T, a, b string) {
		td := oneSpan(func(m pcommon.Map) {
			chatAttrs(m)
			m.PutStr("gen_ai.input.messages", a)
			m.PutStr("gen_ai.output.messages", b)
			m.PutStr("gen_ai.system_instructions", b)
			m.PutStr("gen_ai.response.model", a)
			m.PutStr("gen_ai.conversation.id", b)
			m.PutStr("gen_ai.request.seed", a)
			m.PutStr("gen_ai.retrieval.documents", b)
			m.PutStr("error.type", a)
			m.PutStr("user.id", b)
		})
		ss := td.ResourceSpans().At(0).ScopeSpans().At(0)
		ss.Scope().SetName(a)
		ss.Scope().SetVersion(b)
		ss.Spans().At(0).Status().SetMessage(b)
		old := oneSpan(func(m pcommon.Map) {
			m.PutStr("gen_ai.system", a)
			m.PutStr("gen_ai.request.model", b+"m")
			m.PutStr("gen_ai.prompt.0.role", a)
			m.PutStr("gen_ai.prompt.0.content", b)
			m.PutStr("gen_ai.completion.0.content", a)
			m.PutStr("gen_ai.completion.0.finish_reason", b)
			m.PutStr("llm.input_messages.0.message.content", a)
			m.PutStr("llm.invocation_parameters", b)
		})
		for _, td := range []ptrace.Traces{td, old} {
			for _, ev := range tr.traces(td, nil) {
				if err := schemas.Validate(ev); err != nil {
					t.Fatalf("translated event fails the contract: %v", err)
				}
				buf, err := marshalEvent(nil, ev)
				if err != nil {
					t.Fatalf("marshalEvent: %v", err)
				}
				got := &eventpb.Event{}
				if err := proto.Unmarshal(buf, got); err != nil {
					t.Fatalf("encoded event does not decode: %v", err)
				}
				if !proto.Equal(got, ev) {
					t.Fatalf("round trip changed the event")
				}
			}
		}
	})
}

// TestManyUnknownAttributes: the first pass remembers a few unknown
// gen_ai.* keys; beyond that the second pass must still keep them all.
func TestManyUnknownAttributes(t *testing.T) {
	tel, _ := newTelemetry(nil)
	tr := translator{tel: tel}
	for _, n := range []int{1, 8, 9, 30} {
		ev := tr.traces(oneSpan(func(m pcommon.Map) {
			chatAttrs(m)
			for i := 0; i < n; i++ {
				m.PutInt("gen_ai.request.extra_"+strconv.Itoa(i), int64(i))
			}
			m.PutStr("llm.invocation_parameters", `{"temperature":0}`)
		}), nil)[0]
		// The unknown keys, the invocation parameters as sent and the
		// temperature read from them.
		if len(ev.Attributes) != n+2 || ev.Attributes["gen_ai.request.temperature"] != "0" {
			t.Errorf("%d unknown keys: %d attributes kept: %v", n, len(ev.Attributes), ev.Attributes)
		}
		if ev.Attributes["gen_ai.request.extra_"+strconv.Itoa(n-1)] != strconv.Itoa(n-1) {
			t.Errorf("%d unknown keys: last one missing or wrong: %v", n, ev.Attributes)
		}
	}
}

// TestEvaluationEventsAreNotCalls: the gen_ai.evaluation.result records
// Sightline sends back (sinks/otlp) may reach the same collector; they
// are neither events nor drops.
func TestEvaluationEventsAreNotCalls(t *testing.T) {
	tr, tel := newTestTranslator(t)
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "support-bot")
	for _, name := range []string{"toxicity", "hallucination"} {
		lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
		lr.SetEventName("gen_ai.evaluation.result")
		lr.SetTraceID(pcommon.TraceID{1})
		lr.SetSpanID(pcommon.SpanID{2})
		lr.Attributes().PutStr("gen_ai.evaluation.name", name)
		lr.Attributes().PutDouble("gen_ai.evaluation.score.value", 0.9)
		lr.Attributes().PutStr("gen_ai.response.model", "gpt-4o")
	}
	if evs := tr.logs(ld, nil); len(evs) != 0 {
		t.Fatalf("%d events from evaluation records", len(evs))
	}
	if s := tel.stats(); len(s.Dropped) != 0 || len(s.Issues) != 0 {
		t.Fatalf("evaluation records counted: %+v", s)
	}
}

// fuzzValue is s as a structured value when it is JSON (as log events
// carry messages), else as a string.
func fuzzValue(s string, structured bool) pcommon.Value {
	v := pcommon.NewValueEmpty()
	var raw any
	if structured && json.Unmarshal([]byte(s), &raw) == nil {
		if err := v.FromRaw(raw); err == nil {
			return v
		}
	}
	v.SetStr(s)
	return v
}

var fuzzEventNames = [8]string{detailsEvent, "gen_ai.user.message", "gen_ai.system.message", "gen_ai.assistant.message",
	"gen_ai.tool.message", "gen_ai.choice", "gen_ai.content.prompt", "gen_ai.content.completion"}

// fuzzLogs makes two records of one call from a, b and the bits of sel:
// which event (and whether named by event_name or an event.name
// attribute), content as JSON text or structured values, body as a map or
// text.
func fuzzLogs(a, b string, sel uint8) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", b)
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName(a)
	structured := sel&0x10 != 0
	for i, name := range []string{fuzzEventNames[sel>>1&7], fuzzEventNames[(sel>>1+3)&7]} {
		lr := sl.LogRecords().AppendEmpty()
		lr.SetTraceID(pcommon.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
		lr.SetSpanID(pcommon.SpanID{1, 2, 3, 4, 5, 6, 7, 8})
		lr.SetTimestamp(pcommon.Timestamp(1760000000000000000 + uint64(i)*1e6))
		if sel&1 == 0 {
			lr.SetEventName(name)
		} else {
			lr.Attributes().PutStr("event.name", name)
		}
		at := lr.Attributes()
		fuzzValue(a, structured).CopyTo(at.PutEmpty("gen_ai.input.messages"))
		fuzzValue(b, structured).CopyTo(at.PutEmpty("gen_ai.output.messages"))
		fuzzValue(b, structured).CopyTo(at.PutEmpty("gen_ai.system_instructions"))
		fuzzValue(a, structured).CopyTo(at.PutEmpty("gen_ai.prompt"))
		at.PutStr("gen_ai.request.model", b)
		at.PutStr("gen_ai.system", a)
		fuzzValue(a, true).CopyTo(at.PutEmpty("gen_ai.response.finish_reasons"))
		if sel&0x20 != 0 {
			lr.Body().SetStr(b)
			continue
		}
		body := lr.Body().SetEmptyMap()
		fuzzValue(a, structured).CopyTo(body.PutEmpty("content"))
		fuzzValue(b, true).CopyTo(body.PutEmpty("message"))
		fuzzValue(a, true).CopyTo(body.PutEmpty("tool_calls"))
		body.PutStr("role", b)
		body.PutStr("finish_reason", a)
	}
	return ld
}

// FuzzLogs puts arbitrary text, as JSON text and as structured values,
// into GenAI log records of every kind the exporter reads, alone and
// joined with their span in both orders. Nothing may panic, and whatever
// is produced must pass the full contract check and encode to itself
// (the join harness's recorder checks both).
func FuzzLogs(f *testing.F) {
	for _, s := range [][2]string{
		{`[{"role":"user","parts":[{"type":"text","content":"hi \u00e9"}]}]`, `[{"role":"assistant","parts":[{"type":"tool_call","name":"f","arguments":{"a":1}}],"finish_reason":"stop"}]`},
		{`{"content":"x","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]}`, `{"index":0,"message":{"content":"y"}}`},
		{"\xff\xfe bad \xc3", `[{"role":"\xff","parts":[{"type":"text","content":"\xc3("}]}]`},
		{`[[[[[[[[{"parts":[[{"content":[{"type":"text"}]}]]}]]]]]]]]`, `null`},
		{`[`, ``},
	} {
		for _, sel := range []uint8{0, 0x11, 0x13, 0x25, 0x3f} {
			f.Add(s[0], s[1], sel)
		}
	}
	tel, _ := newTelemetry(nil)
	tr := translator{tel: tel}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, a, b string, sel uint8) {
		ld := fuzzLogs(a, b, sel)
		for _, ev := range tr.logs(ld, nil) {
			if err := schemas.Validate(ev); err != nil {
				t.Fatalf("translated event fails the contract: %v", err)
			}
		}
		span := oneSpan(chatAttrs)
		for _, logsFirst := range []bool{true, false} {
			h := newJoinHarness(t, JoinConfig{Wait: time.Second, MaxPending: 2})
			if logsFirst {
				must(t, h.e.pushLogs(ctx, ld), "logs")
			}
			must(t, h.e.pushTraces(ctx, span), "traces")
			if !logsFirst {
				must(t, h.e.pushLogs(ctx, ld), "logs")
			}
			h.now = h.now.Add(2 * time.Second)
			must(t, h.flush(), "flush")
			must(t, h.e.flushPending(ctx), "shutdown")
			if len(h.produced) != 1 {
				t.Fatalf("the span and its log events made %d calls, want 1", len(h.produced))
			}
		}
	})
}

// TestArenaDoubleAsString: doubles written into the arena read as
// pcommon writes them.
func TestArenaDoubleAsString(t *testing.T) {
	var a arena
	for _, f := range []float64{0, 0.2, -0.5, 1, 512, 0.1 + 0.2, 1e-6, 9.99e-7, 1e20, 1e21, 123456789.125, math.Copysign(0, -1),
		math.Inf(1), math.Inf(-1), math.NaN(), math.SmallestNonzeroFloat64, math.MaxFloat64} {
		v := pcommon.NewValueDouble(f)
		if got, want := a.asString(v), v.AsString(); got != want {
			t.Errorf("%v: arena writes %q, pcommon %q", f, got, want)
		}
	}
}
