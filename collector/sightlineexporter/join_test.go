package sightlineexporter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unsafe"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/sightline-dev/sightline/schemas"
	"github.com/sightline-dev/sightline/schemas/eventpb"
)

// joinScenario is a file under testdata/join: pushes of spans and log
// records (files under testdata, or some of their spans or records), the
// clock moved on, and shutdown, through one exporter with joining on.
type joinScenario struct {
	About string `json:"about"`
	Join  *struct {
		Wait       string `json:"wait"`
		MaxPending int    `json:"max_pending"`
	} `json:"join"`
	Steps []joinStep `json:"steps"`
}

type joinStep struct {
	Traces   string `json:"traces,omitempty"`
	Logs     string `json:"logs,omitempty"`
	Only     []int  `json:"only,omitempty"` // indices of the spans or records to push
	Advance  string `json:"advance,omitempty"`
	Shutdown bool   `json:"shutdown,omitempty"`
	// Fail makes the step's produce fail once (the brokers refuse it).
	Fail bool `json:"fail,omitempty"`
}

// joinGolden is what a scenario's golden file holds: what each step
// produced, and the counters.
type joinGolden struct {
	Steps   []joinGoldenStep `json:"steps"`
	Stats   Stats            `json:"stats"`
	Waiting int              `json:"waiting_after"`
}

type joinGoldenStep struct {
	Step     string            `json:"step"`
	Error    string            `json:"error,omitempty"`
	Produced []json.RawMessage `json:"produced"`
}

// joinHarness is an exporter with joining on, a clock of its own and a
// recorder instead of Kafka; it runs the flusher's work after each step
// instead of on the flusher's goroutine, so scenarios are deterministic.
type joinHarness struct {
	e        *sightlineExporter
	now      time.Time
	failNext bool
	produced []json.RawMessage
	t        testing.TB
}

func newJoinHarness(t testing.TB, join JoinConfig) *joinHarness {
	t.Helper()
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	cfg.Brokers = []string{"127.0.0.1:1"}
	cfg.Join = join
	tel, err := newTelemetry(nil)
	must(t, err, "telemetry")
	h := &joinHarness{now: time.Date(2025, 10, 9, 9, 0, 0, 0, time.UTC), t: t}
	e := &sightlineExporter{cfg: cfg, tel: tel, tr: translator{tenant: cfg.Tenant, tel: tel}}
	e.send = h.record
	e.enableJoin()
	e.join.now = func() time.Time { return h.now }
	h.e = e
	return h
}

var errRefused = errors.New("refused by the test")

// record checks each event as the score stage would and keeps its JSON
// form at once (events of a push live in an arena reused after it).
func (h *joinHarness) record(_ context.Context, evs []*eventpb.Event) error {
	if len(evs) > 0 && h.failNext {
		h.failNext = false
		return errRefused
	}
	for _, ev := range evs {
		if err := schemas.Validate(ev); err != nil {
			h.t.Fatalf("produced event fails the contract: %v", err)
		}
		b, err := marshalEvent(nil, ev)
		must(h.t, err, "marshalEvent")
		if dec, err := schemas.Decode(b); err != nil || !proto.Equal(dec, ev) {
			h.t.Fatalf("marshalEvent output does not decode to the event: %v", err)
		}
		j, err := json.Marshal(schemas.ToJSON(ev))
		must(h.t, err, "json")
		h.produced = append(h.produced, j)
	}
	return nil
}

// flush does the flusher's work: produce what is ready.
func (h *joinHarness) flush() error { return h.e.flushReady(context.Background()) }

func (h *joinHarness) step(s joinStep) error {
	ctx := context.Background()
	h.failNext = s.Fail
	var err error
	switch {
	case s.Traces != "":
		td := readTraceFile(h.t, s.Traces, s.Only)
		err = h.e.pushTraces(ctx, td)
	case s.Logs != "":
		ld := readLogFile(h.t, s.Logs, s.Only)
		err = h.e.pushLogs(ctx, ld)
	case s.Advance != "":
		d, perr := time.ParseDuration(s.Advance)
		must(h.t, perr, "advance")
		h.now = h.now.Add(d)
	case s.Shutdown:
		// As shutdown does once the flusher stopped.
		return h.e.flushPending(ctx)
	}
	if ferr := h.flush(); err == nil {
		err = ferr
	}
	return err
}

func readTraceFile(t testing.TB, path string, only []int) ptrace.Traces {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", path))
	must(t, err, "read "+path)
	td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(b)
	must(t, err, "parse "+path)
	if only != nil {
		i := 0
		keep := map[int]bool{}
		for _, n := range only {
			keep[n] = true
		}
		for r := 0; r < td.ResourceSpans().Len(); r++ {
			for s := 0; s < td.ResourceSpans().At(r).ScopeSpans().Len(); s++ {
				td.ResourceSpans().At(r).ScopeSpans().At(s).Spans().RemoveIf(func(ptrace.Span) bool {
					i++
					return !keep[i-1]
				})
			}
		}
	}
	return td
}

func readLogFile(t testing.TB, path string, only []int) plog.Logs {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", path))
	must(t, err, "read "+path)
	ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs(b)
	must(t, err, "parse "+path)
	if only != nil {
		i := 0
		keep := map[int]bool{}
		for _, n := range only {
			keep[n] = true
		}
		for r := 0; r < ld.ResourceLogs().Len(); r++ {
			for s := 0; s < ld.ResourceLogs().At(r).ScopeLogs().Len(); s++ {
				ld.ResourceLogs().At(r).ScopeLogs().At(s).LogRecords().RemoveIf(func(plog.LogRecord) bool {
					i++
					return !keep[i-1]
				})
			}
		}
	}
	return ld
}

func (s joinStep) String() string {
	switch {
	case s.Traces != "":
		return "traces " + s.Traces + onlyString(s.Only) + failString(s.Fail)
	case s.Logs != "":
		return "logs " + s.Logs + onlyString(s.Only) + failString(s.Fail)
	case s.Advance != "":
		return "advance " + s.Advance + failString(s.Fail)
	case s.Shutdown:
		return "shutdown" + failString(s.Fail)
	}
	return "?"
}

func onlyString(only []int) string {
	if only == nil {
		return ""
	}
	b, _ := json.Marshal(only)
	return " only " + string(b)
}

func failString(fail bool) string {
	if fail {
		return " (brokers refuse)"
	}
	return ""
}

// TestJoinGolden runs each scenario under testdata/join and compares what
// each step produced, and the counters, with testdata/golden/join_*.json.
// Run with -update to rewrite.
func TestJoinGolden(t *testing.T) {
	inputs, _ := filepath.Glob(filepath.Join("testdata", "join", "*.json"))
	if len(inputs) == 0 {
		t.Fatal("no scenarios under testdata/join")
	}
	for _, in := range inputs {
		name := "join_" + filepath.Base(in)
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(in)
			must(t, err, "read")
			var sc joinScenario
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.DisallowUnknownFields()
			must(t, dec.Decode(&sc), "parse "+in)
			jc := JoinConfig{Wait: DefaultJoinWait, MaxPending: DefaultJoinMaxPending}
			if sc.Join != nil {
				d, err := time.ParseDuration(sc.Join.Wait)
				must(t, err, "join.wait")
				jc = JoinConfig{Wait: d, MaxPending: sc.Join.MaxPending}
			}
			h := newJoinHarness(t, jc)
			var doc joinGolden
			for _, s := range sc.Steps {
				h.produced = nil
				err := h.step(s)
				gs := joinGoldenStep{Step: s.String(), Produced: h.produced}
				if err != nil {
					gs.Error = err.Error()
				}
				if gs.Produced == nil {
					gs.Produced = []json.RawMessage{}
				}
				doc.Steps = append(doc.Steps, gs)
			}
			doc.Stats = h.e.tel.stats()
			doc.Waiting, _ = h.e.join.pending()
			got, err := json.MarshalIndent(doc, "", "  ")
			must(t, err, "json")
			got = append(got, '\n')
			golden := filepath.Join("testdata", "golden", name)
			if *update {
				must(t, os.WriteFile(golden, got, 0o644), "write golden")
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("cannot read golden file (run with -update to create it): %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the golden file (run with -update after checking the change):\n%s", in, diffLines(string(want), string(got)))
			}
		})
	}
}

// goldenEvents reads the events a scenario's golden file says were
// produced, all steps together.
func goldenEvents(t *testing.T, scenario string) []schemas.JSONEvent {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "golden", "join_"+scenario+".json"))
	must(t, err, "read golden")
	var doc struct {
		Steps []struct {
			Produced []schemas.JSONEvent `json:"produced"`
		} `json:"steps"`
	}
	must(t, json.Unmarshal(b, &doc), "parse golden")
	var out []schemas.JSONEvent
	for _, s := range doc.Steps {
		out = append(out, s.Produced...)
	}
	return out
}

// TestJoinGoldenContent spells out what the golden files must show, so an
// -update that loses content cannot pass unnoticed.
func TestJoinGoldenContent(t *testing.T) {
	texts := func(ms []schemas.JSONMessage) string {
		var parts []string
		for _, m := range ms {
			parts = append(parts, m.Role+": "+m.Content+finishSuffix(m.FinishReason))
		}
		return strings.Join(parts, " | ")
	}
	for _, scenario := range []string{"span_first", "logs_first"} {
		evs := goldenEvents(t, scenario)
		if len(evs) != 2 {
			t.Fatalf("%s: %d calls, want 2", scenario, len(evs))
		}
		want := []struct{ prompt, completion string }{
			{"system: You answer in one short sentence. | user: What is the capital of France?", "assistant: Paris is the capital of France. (stop)"},
			{"user: Count to three.", "assistant: One, two, three. (stop)"},
		}
		for i, ev := range evs {
			if got := texts(ev.Prompt); got != want[i].prompt {
				t.Errorf("%s call %d prompt: %q, want %q", scenario, i, got, want[i].prompt)
			}
			if got := texts(ev.Completion); got != want[i].completion {
				t.Errorf("%s call %d completion: %q, want %q", scenario, i, got, want[i].completion)
			}
			if ev.RequestModel != "gpt-4o-mini" || ev.Model != "gpt-4o-mini-2024-07-18" || ev.InputTokens == 0 || ev.OutputTokens == 0 ||
				ev.App != "interop-otel" || ev.SpanID == "" {
				t.Errorf("%s call %d labels: %+v", scenario, i, ev)
			}
		}
	}
	tools := goldenEvents(t, "tool_calls")
	if len(tools) != 1 || !strings.Contains(texts(tools[0].Prompt), `assistant: tool_call lookup_order({"id":"8812"})`) ||
		!strings.Contains(texts(tools[0].Prompt), `tool: {"status":"shipped","eta":"Friday"}`) {
		t.Errorf("tool calls: %+v", tools)
	}
}

func finishSuffix(f string) string {
	if f == "" {
		return ""
	}
	return " (" + f + ")"
}

// TestJoinRetryAfterRefusal: a span produced straight from its push whose
// produce failed is offered again by exporterhelper's retry and produced
// then; a joined call the brokers refused stays ready and is produced by
// the next flush, once.
func TestJoinRetryAfterRefusal(t *testing.T) {
	h := newJoinHarness(t, JoinConfig{Wait: 10 * time.Second, MaxPending: 10})
	td := readTraceFile(t, "traces/genai_current.json", nil)
	h.failNext = true
	if err := h.e.pushTraces(context.Background(), td); err == nil {
		t.Fatal("refused push succeeded")
	}
	must(t, h.e.pushTraces(context.Background(), td), "retry")
	if len(h.produced) != 1 {
		t.Fatalf("retried push produced %d calls, want 1", len(h.produced))
	}

	h.produced = nil
	must(t, h.e.pushLogs(context.Background(), readLogFile(t, "logs/otel_js_openai.json", nil)), "logs")
	h.failNext = true
	if err := h.e.pushTraces(context.Background(), readTraceFile(t, "traces/otel_js_openai.json", nil)); err != nil {
		t.Fatalf("push of spans that join: %v", err)
	}
	if err := h.flush(); err == nil {
		t.Fatal("refused flush succeeded")
	}
	if len(h.produced) != 0 {
		t.Fatalf("refused flush produced %d", len(h.produced))
	}
	must(t, h.flush(), "flush again")
	if len(h.produced) != 2 {
		t.Fatalf("second flush produced %d calls, want 2", len(h.produced))
	}
	s := h.e.tel.stats()
	if s.Join["merged"] != 2 {
		t.Errorf("a retried batch counted again: %+v", s.Join)
	}
}

// TestJoinReadyFull: when as many calls are ready as may wait (the brokers
// are slow), a new call is not held: its span is produced at once.
func TestJoinReadyFull(t *testing.T) {
	h := newJoinHarness(t, JoinConfig{Wait: 10 * time.Second, MaxPending: 1})
	must(t, h.e.pushLogs(context.Background(), readLogFile(t, "logs/details_three_calls.json", []int{0})), "logs")
	h.now = h.now.Add(11 * time.Second)
	h.e.join.expire() // ready, not produced: no flush
	must(t, h.e.pushTraces(context.Background(), readTraceFile(t, "traces/otel_js_openai.json", []int{0})), "traces")
	if len(h.produced) != 1 {
		t.Fatalf("span not produced at once: %d", len(h.produced))
	}
	if s := h.e.tel.stats(); s.Join["pending_full"] != 1 {
		t.Errorf("not counted: %+v", s.Join)
	}
	must(t, h.flush(), "flush")
	if len(h.produced) != 2 {
		t.Fatalf("ready call not produced: %d", len(h.produced))
	}
}

// fillAll sets every field of m, recursively, to distinct non-zero values.
func fillAll(m protoreflect.Message, n *int) {
	next := func() string { *n++; return "s" + strings.Repeat("x", *n%7) + string(rune('a'+*n%26)) + itoa(*n) }
	fields := m.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		switch {
		case fd.IsMap():
			mp := m.Mutable(fd).Map()
			for j := 0; j < 2; j++ {
				k := protoreflect.ValueOfString(next()).MapKey()
				if fd.MapValue().Kind() == protoreflect.StringKind {
					mp.Set(k, protoreflect.ValueOfString(next()))
				}
			}
		case fd.IsList():
			l := m.Mutable(fd).List()
			for j := 0; j < 2; j++ {
				switch fd.Kind() {
				case protoreflect.StringKind:
					l.Append(protoreflect.ValueOfString(next()))
				case protoreflect.MessageKind:
					e := l.NewElement()
					fillAll(e.Message(), n)
					l.Append(e)
				case protoreflect.FloatKind:
					l.Append(protoreflect.ValueOfFloat32(1.5))
				}
			}
		case fd.Kind() == protoreflect.StringKind:
			m.Set(fd, protoreflect.ValueOfString(next()))
		case fd.Kind() == protoreflect.MessageKind:
			fillAll(m.Mutable(fd).Message(), n)
		case fd.Kind() == protoreflect.DoubleKind:
			m.Set(fd, protoreflect.ValueOfFloat64(2.5))
		case fd.Kind() == protoreflect.Int64Kind:
			m.Set(fd, protoreflect.ValueOfInt64(7))
		case fd.Kind() == protoreflect.Uint32Kind:
			m.Set(fd, protoreflect.ValueOfUint32(1))
		case fd.Kind() == protoreflect.Int32Kind:
			m.Set(fd, protoreflect.ValueOfInt32(3))
		case fd.Kind() == protoreflect.BoolKind:
			m.Set(fd, protoreflect.ValueOfBool(true))
		case fd.Kind() == protoreflect.EnumKind:
			m.Set(fd, protoreflect.ValueOfEnum(1))
		}
	}
}

// stringData collects the memory of every string in m.
func stringData(m protoreflect.Message, out map[*byte]string) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		add := func(s string) {
			if s != "" {
				out[unsafe.StringData(s)] = string(fd.FullName())
			}
		}
		switch {
		case fd.IsMap():
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				add(k.String())
				if fd.MapValue().Kind() == protoreflect.StringKind {
					add(mv.String())
				}
				return true
			})
		case fd.IsList():
			for i := 0; i < v.List().Len(); i++ {
				switch fd.Kind() {
				case protoreflect.StringKind:
					add(v.List().Get(i).String())
				case protoreflect.MessageKind:
					stringData(v.List().Get(i).Message(), out)
				}
			}
		case fd.Kind() == protoreflect.StringKind:
			add(v.String())
		case fd.Kind() == protoreflect.MessageKind:
			stringData(v.Message(), out)
		}
		return true
	})
}

// TestOwnSharesNothing: own copies every field (a schema change shows up
// here) and no string of the copy shares memory with the original, whose
// strings may live in a push's arena.
func TestOwnSharesNothing(t *testing.T) {
	ev := &eventpb.Event{}
	n := 0
	fillAll(ev.ProtoReflect(), &n)
	c := own(ev)
	if !proto.Equal(c, ev) {
		t.Fatalf("copy differs:\n%v\n%v", c, ev)
	}
	orig, cp := map[*byte]string{}, map[*byte]string{}
	stringData(ev.ProtoReflect(), orig)
	stringData(c.ProtoReflect(), cp)
	if len(orig) < 20 {
		t.Fatalf("only %d strings filled", len(orig))
	}
	for p, field := range cp {
		if _, shared := orig[p]; shared {
			t.Errorf("%s shares its memory with the original", field)
		}
	}
}
