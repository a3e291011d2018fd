package sightlineexporter

import (
	"encoding/binary"
	"encoding/hex"
	"hash/fnv"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/sightline-dev/sightline/schemas"
	"github.com/sightline-dev/sightline/schemas/eventpb"
)

// translator maps spans and log events to Sightline events. It keeps no
// state between calls and is safe for concurrent use.
type translator struct {
	tenant string // default tenant, overridden by a sightline.tenant attribute
	tel    *telemetry
	a      *arena // set on the per-call copy made by traces and logs
	// keepFinish gives a span without completion messages one empty
	// message per finish reason, so the reasons survive until the call's
	// log events bring the completion (see joiner).
	keepFinish bool
}

// withArena returns a copy of t that allocates from a.
func (t *translator) withArena(a *arena) *translator {
	c := *t
	c.a = a
	return &c
}

// maxIndex bounds N in indexed attributes (gen_ai.prompt.N.*): beyond it
// the attribute is ignored and counted, so a hostile N cannot make the
// exporter allocate.
const maxIndex = schemas.MaxMessages

type resourceInfo struct {
	app, env, tenant string
}

func (t *translator) resource(r pcommon.Resource) resourceInfo {
	ri := resourceInfo{tenant: t.tenant}
	for k, v := range r.Attributes().All() {
		switch k {
		case "service.name":
			ri.app = v.AsString()
		case "deployment.environment.name":
			ri.env = v.AsString()
		case "deployment.environment":
			if ri.env == "" {
				ri.env = v.AsString()
			}
		case "sightline.tenant":
			ri.tenant = v.AsString()
		}
	}
	return ri
}

type retrievalRef struct {
	start pcommon.Timestamp
	docs  []string
}

// traces appends the events of the LLM calls in td to out.
func (t *translator) traces(td ptrace.Traces, out []*eventpb.Event) []*eventpb.Event {
	return t.tracesIn(&arena{}, td, out)
}

// pendingCall is a span found to be an LLM call in the first pass.
type pendingCall struct {
	span  ptrace.Span
	scope pcommon.InstrumentationScope
	res   int // index into the resources of td
	f     fields
}

// tracesIn is traces allocating from a: the events are valid until a is
// reset.
//
// A first pass reads every span's attributes once to find the calls and
// the retrieval spans: retrievals of a trace are the context of its
// calls, wherever they are in the batch. Spans that are neither cost that
// one pass over their attributes and no allocation.
func (t *translator) tracesIn(a *arena, td ptrace.Traces, out []*eventpb.Event) []*eventpb.Event {
	t = t.withArena(a)
	var (
		res        []resourceInfo
		retrievals map[pcommon.TraceID][]retrievalRef
	)
	calls := a.calls[:0]
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		resIdx := -1
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			ss := sss.At(j)
			spans := ss.Spans()
			for k := 0; k < spans.Len(); k++ {
				span := spans.At(k)
				calls = append(calls, pendingCall{})
				pc := &calls[len(calls)-1]
				pc.f.scan(span.Attributes())
				switch {
				case pc.f.isCall():
					if resIdx < 0 {
						resIdx = len(res)
						res = append(res, t.resource(rs.Resource()))
					}
					pc.span, pc.scope, pc.res = span, ss.Scope(), resIdx
					continue
				case pc.f.isRetrieval():
					docs := t.documents(span.Attributes(), &pc.f, nil)
					if len(docs) > 0 {
						if retrievals == nil {
							retrievals = map[pcommon.TraceID][]retrievalRef{}
						}
						retrievals[span.TraceID()] = append(retrievals[span.TraceID()], retrievalRef{start: span.StartTimestamp(), docs: docs})
					}
				}
				calls = calls[:len(calls)-1]
			}
		}
	}
	a.calls = calls // keep the grown slice for the arena's next use
	for i := range calls {
		pc := &calls[i]
		ev := t.spanCall(&res[pc.res], pc.scope, pc.span, &pc.f)
		// Retrievals of the same trace that started before the call are
		// its context (RAG): the documents were available to the prompt.
		for _, r := range retrievals[pc.span.TraceID()] {
			if r.start <= pc.span.StartTimestamp() {
				ev.Context = append(ev.Context, r.docs...)
			}
		}
		if t.finish(ev) {
			out = append(out, ev)
		}
	}
	return out
}

func (t *translator) spanCall(res *resourceInfo, scope pcommon.InstrumentationScope, span ptrace.Span, f *fields) *eventpb.Event {
	ev := t.build(res, f, span.Attributes())
	start, end := span.StartTimestamp(), span.EndTimestamp()
	ev.EventId = t.a.eventID(span.TraceID(), span.SpanID(), start, idFromSpan)
	ev.Ts = t.a.timestamp(uint64(start))
	if end > start {
		ev.DurationMs = float64(end-start) / 1e6
	}
	ev.TraceId, ev.SpanId = t.a.traceIDs(span.TraceID(), span.SpanID())
	if span.Status().Code() == ptrace.StatusCodeError || f.errType != "" {
		typ := f.errType
		if typ == "" {
			typ = "error"
		}
		ev.Error = &eventpb.Error{Type: validUTF8(typ), Message: validUTF8(span.Status().Message())}
	}
	if scope.Name() != "" {
		ev.Sdk = t.a.sdk(validUTF8(scope.Name()), validUTF8(scope.Version()))
	}
	// Per-message span events (older conventions) and the details event.
	if evs := span.Events(); evs.Len() > 0 {
		var m eventMessages
		empty := pcommon.NewValueEmpty()
		for i := 0; i < evs.Len(); i++ {
			e := evs.At(i)
			t.messageEvent(ev, &m, e.Name(), e.Attributes(), empty)
		}
		m.apply(ev)
	}
	if t.keepFinish && len(ev.Completion) == 0 && f.hasFinish {
		ev.Completion = finishOnly(t.a, f.finish)
	}
	return ev
}

// finishOnly returns one assistant message without content per finish
// reason in v.
func finishOnly(a *arena, v pcommon.Value) []*eventpb.Message {
	var out []*eventpb.Message
	switch v.Type() {
	case pcommon.ValueTypeSlice:
		s := v.Slice()
		for i := 0; i < s.Len() && i < schemas.MaxMessages; i++ {
			out = append(out, a.message("assistant", "", validUTF8(s.At(i).AsString())))
		}
	case pcommon.ValueTypeStr:
		out = append(out, a.message("assistant", "", validUTF8(v.Str())))
	}
	return out
}

// build makes the event's labels, tokens and content from one scan of the
// attributes (and a second pass when indexed or unknown keys were seen).
func (t *translator) build(res *resourceInfo, f *fields, attrs pcommon.Map) *eventpb.Event {
	ev := t.a.event()
	ev.SchemaVersion = schemas.CurrentVersion
	ev.Tenant, ev.App, ev.Environment = res.tenant, res.app, res.env
	ev.ConversationId, ev.UserId, ev.ResponseId, ev.Variant = f.convID, f.userID, f.respID, f.variant
	if f.tenant != "" {
		ev.Tenant = f.tenant
	}
	t.labels(ev, f)
	t.content(ev, f, attrs)
	return ev
}

// labels sets provider, operation, models and tokens from f, where
// missing on ev (so a details event can fill what a span lacked).
func (t *translator) labels(ev *eventpb.Event, f *fields) {
	if ev.Provider == "" {
		ev.Provider = strings.ToLower(firstNonEmpty(f.provider, f.system, f.oiProvider, f.oiSystem))
	}
	if ev.Operation == "" {
		switch {
		case f.op != "":
			ev.Operation = f.op
		case f.reqType == "completion":
			ev.Operation = "text_completion"
		case f.reqType != "" || strings.EqualFold(f.oiKind, "LLM"):
			ev.Operation = "chat"
		}
	}
	if ev.RequestModel == "" {
		ev.RequestModel = firstNonEmpty(f.reqModel, f.oiReqModel)
		if ev.RequestModel == "" && f.hasOIParams {
			// OpenInference records the request's model only among the
			// invocation parameters.
			ev.RequestModel = t.invocationParams(f.oiParams, nil)
		}
	}
	if ev.Model == "" {
		// The model that answered; the requested one when the response
		// did not say.
		ev.Model = firstNonEmpty(f.respModel, f.oiRespModel, f.oiModel, ev.RequestModel)
	}
	if ev.ResponseId == "" {
		ev.ResponseId = f.respID
	}
	if ev.ConversationId == "" {
		ev.ConversationId = f.convID
	}
	if ev.InputTokens == 0 {
		switch {
		case f.hasInTok:
			ev.InputTokens = t.tokens(f.inTok)
		case f.hasOIInTok:
			ev.InputTokens = t.tokens(f.oiInTok)
		}
	}
	if ev.OutputTokens == 0 {
		switch {
		case f.hasOutTok:
			ev.OutputTokens = t.tokens(f.outTok)
		case f.hasOIOutTok:
			ev.OutputTokens = t.tokens(f.oiOutTok)
		}
	}
}

// tokens reads a token count. Counts sent as strings or doubles are
// accepted when they hold a whole non-negative number, and counted as an
// issue either way; anything else is 0.
func (t *translator) tokens(v pcommon.Value) int64 {
	switch v.Type() {
	case pcommon.ValueTypeInt:
		if n := v.Int(); n >= 0 {
			return n
		}
	case pcommon.ValueTypeDouble:
		if d := v.Double(); d >= 0 && d <= math.MaxInt64/2 && d == math.Trunc(d) {
			t.tel.issue(issueTokenCountType)
			return int64(d)
		}
	case pcommon.ValueTypeStr:
		if n, err := strconv.ParseInt(strings.TrimSpace(v.Str()), 10, 64); err == nil && n >= 0 {
			t.tel.issue(issueTokenCountType)
			return n
		}
	}
	t.tel.issue(issueTokenCountType)
	return 0
}

// content sets prompt, completion, context and attributes.
func (t *translator) content(ev *eventpb.Event, f *fields, attrs pcommon.Map) {
	if ev.Prompt == nil && (f.hasSysInstr || f.hasInMsgs) {
		// A system message and a few turns are usual: one list with room
		// for them rather than growing it turn by turn.
		ev.Prompt = t.a.messageList(4)
	}
	if f.hasSysInstr {
		// A list of parts, one system message.
		n := len(ev.Prompt)
		var err error
		if ev.Prompt, err = messagesFromValue(t.a, f.sysInstr, "system", ev.Prompt); err != nil {
			t.tel.issue(issueInvalidMessages)
			ev.Prompt = append(ev.Prompt[:n], t.a.message("system", validUTF8(f.sysInstr.AsString()), ""))
		}
		// The usual single text part is the system message as it is.
		if parts := ev.Prompt[n:]; len(parts) > 1 || len(parts) == 1 && (parts[0].Role != "system" || parts[0].FinishReason != "") {
			sys := t.a.message("system", "", "")
			for i, p := range parts {
				if i > 0 {
					sys.Content += "\n"
				}
				sys.Content += p.Content
			}
			ev.Prompt = append(ev.Prompt[:n], sys)
		}
	}
	if ev.Completion == nil && f.hasOutMsgs {
		ev.Completion = t.a.messageList(1)
	}
	ev.Prompt = t.messages(ev.Prompt, f.hasInMsgs, f.inMsgs, "user")
	ev.Completion = t.messages(ev.Completion, f.hasOutMsgs, f.outMsgs, "assistant")
	if len(ev.Prompt) == 0 {
		ev.Prompt = t.messages(ev.Prompt, f.hasOldPrompt, f.oldPrompt, "user")
	}
	if len(ev.Completion) == 0 {
		ev.Completion = t.messages(ev.Completion, f.hasOldCompletion, f.oldCompletion, "assistant")
	}
	if kept := f.kept(); len(kept) > 0 {
		if ev.Attributes == nil {
			ev.Attributes = t.a.attributes(len(kept))
		}
		for _, kv := range kept {
			ev.Attributes[kv.k] = validUTF8(t.a.asString(kv.v))
		}
	}
	if f.indexed || f.overflow || f.oiDocs {
		t.secondPass(ev, f, attrs)
	}
	// OpenInference spans without structured messages: the raw input and
	// output values.
	if len(ev.Prompt) == 0 && f.inputValue != "" {
		ev.Prompt = append(ev.Prompt, t.a.message("user", validUTF8(f.inputValue), ""))
	}
	if len(ev.Completion) == 0 && f.outputValue != "" {
		ev.Completion = append(ev.Completion, t.a.message("assistant", validUTF8(f.outputValue), ""))
	}
	if f.hasFinish {
		applyFinishReasons(ev.Completion, f.finish)
	}
	if f.oiFinish != "" && len(ev.Completion) > 0 && ev.Completion[0].FinishReason == "" {
		ev.Completion[0].FinishReason = validUTF8(f.oiFinish)
	}
	if f.hasOIParams {
		if ev.Attributes == nil {
			ev.Attributes = t.a.attributes(4)
		}
		t.invocationParams(f.oiParams, ev.Attributes)
	}
	if f.hasDocs {
		ev.Context = t.documents(attrs, f, ev.Context)
	}
}

func (t *translator) messages(out []*eventpb.Message, has bool, v pcommon.Value, role string) []*eventpb.Message {
	if !has {
		return out
	}
	n := len(out)
	out, err := messagesFromValue(t.a, v, role, out)
	if err != nil {
		// Keep what was sent as one message rather than lose the text.
		t.tel.issue(issueInvalidMessages)
		out = append(out[:n], t.a.message(role, validUTF8(v.AsString()), ""))
	}
	return out
}

// invocationParams reads OpenInference's llm.invocation_parameters (a JSON
// object of the request's parameters): the well-known sampling parameters
// go into attrs under their GenAI names (unless already there), as spans
// of the GenAI conventions record them. It returns the requested model.
// attrs may be nil.
func (t *translator) invocationParams(v pcommon.Value, attrs map[string]string) (model string) {
	if v.Type() != pcommon.ValueTypeStr {
		return ""
	}
	p := scanner{s: v.Str(), a: t.a}
	if !p.enter('{') {
		return ""
	}
	for first := true; p.next('}', first); first = false {
		k, ok := p.key()
		if !ok {
			return model
		}
		var val string
		if p.peek() == '"' {
			val, ok = p.str()
		} else {
			val, ok = p.skip(0)
		}
		if !ok {
			return model
		}
		if k == "model" {
			model = validUTF8(val)
			continue
		}
		name := invocationParamNames[k]
		if attrs == nil || name == "" || val == "null" {
			continue
		}
		if _, ok := attrs[name]; !ok {
			attrs[name] = validUTF8(val)
		}
	}
	return model
}

// invocationParamNames maps OpenAI-style request parameters to the GenAI
// attribute names.
var invocationParamNames = map[string]string{
	"temperature": "gen_ai.request.temperature", "top_p": "gen_ai.request.top_p", "top_k": "gen_ai.request.top_k",
	"max_tokens": "gen_ai.request.max_tokens", "max_completion_tokens": "gen_ai.request.max_tokens",
	"max_output_tokens": "gen_ai.request.max_tokens", "frequency_penalty": "gen_ai.request.frequency_penalty",
	"presence_penalty": "gen_ai.request.presence_penalty", "seed": "gen_ai.request.seed",
	"stop": "gen_ai.request.stop_sequences", "n": "gen_ai.request.choice.count",
}

func applyFinishReasons(completion []*eventpb.Message, v pcommon.Value) {
	switch v.Type() {
	case pcommon.ValueTypeSlice:
		s := v.Slice()
		for i := 0; i < s.Len() && i < len(completion); i++ {
			if completion[i].FinishReason == "" {
				completion[i].FinishReason = validUTF8(s.At(i).AsString())
			}
		}
	case pcommon.ValueTypeStr:
		if len(completion) > 0 && completion[0].FinishReason == "" {
			completion[0].FinishReason = validUTF8(v.Str())
		}
	}
}

// documents returns the retrieved passages recorded on a span, appended
// to out.
func (t *translator) documents(attrs pcommon.Map, f *fields, out []string) []string {
	if f.hasDocs {
		var err error
		if out, err = documentsFromValue(f.docs, out); err != nil {
			t.tel.issue(issueInvalidDocuments)
		}
	}
	if f.oiDocs {
		var docs []string
		for k, v := range attrs.All() {
			rest, ok := strings.CutPrefix(k, "retrieval.documents.")
			if !ok {
				continue
			}
			idx, field, ok := splitIndexed(rest)
			if !ok || field != "document.content" {
				continue
			}
			if idx >= schemas.MaxContextItems {
				t.tel.issue(issueIndexOutOfRange)
				continue
			}
			for len(docs) <= idx {
				docs = append(docs, "")
			}
			docs[idx] = validUTF8(v.AsString())
		}
		for _, d := range docs {
			if d != "" {
				out = append(out, d)
			}
		}
	}
	return out
}

// indexedMsg collects one message spread over indexed attributes.
type indexedMsg struct {
	role, content, finish string
	tools                 []toolCall
	set                   bool
}

type toolCall struct{ name, args string }

func (m *indexedMsg) toProto(a *arena) *eventpb.Message {
	content := m.content
	for _, tc := range m.tools {
		if tc.name == "" && tc.args == "" {
			continue
		}
		if content != "" {
			content += "\n"
		}
		content += "tool_call " + tc.name + "(" + tc.args + ")"
	}
	return a.message(validUTF8(m.role), validUTF8(content), validUTF8(m.finish))
}

// secondPass reads indexed message attributes (OpenLLMetry's
// gen_ai.prompt.N.*, OpenInference's llm.input_messages.N.message.*) and
// keeps unknown gen_ai.* keys as event attributes.
func (t *translator) secondPass(ev *eventpb.Event, f *fields, attrs pcommon.Map) {
	// The lists are scratch space, reused from span to span: toProto
	// copies what is kept.
	var prompt, completion, oiIn, oiOut []indexedMsg
	if t.a != nil {
		prompt, completion, oiIn, oiOut = t.a.indexed[0][:0], t.a.indexed[1][:0], t.a.indexed[2][:0], t.a.indexed[3][:0]
		defer func() { t.a.indexed = [4][]indexedMsg{prompt, completion, oiIn, oiOut} }()
	}
	for k, v := range attrs.All() {
		var (
			dst   *[]indexedMsg
			rest  string
			isOI  bool
			found bool
		)
		switch {
		case strings.HasPrefix(k, "gen_ai."):
			if rest, found = strings.CutPrefix(k, "gen_ai.prompt."); found {
				dst = &prompt
			} else if rest, found = strings.CutPrefix(k, "gen_ai.completion."); found {
				dst = &completion
			} else if f.overflow && !knownGenAI[k] {
				if ev.Attributes == nil {
					ev.Attributes = t.a.attributes(0)
				}
				ev.Attributes[k] = validUTF8(t.a.asString(v))
				continue
			}
		case strings.HasPrefix(k, "llm."):
			if rest, found = strings.CutPrefix(k, "llm.input_messages."); found {
				dst, isOI = &oiIn, true
			} else if rest, found = strings.CutPrefix(k, "llm.output_messages."); found {
				dst, isOI = &oiOut, true
			} else if f.overflow && k == "llm.invocation_parameters" {
				if ev.Attributes == nil {
					ev.Attributes = t.a.attributes(0)
				}
				ev.Attributes[k] = validUTF8(t.a.asString(v))
				continue
			}
		}
		if dst == nil {
			continue
		}
		idx, field, ok := splitIndexed(rest)
		if !ok {
			continue
		}
		if idx >= maxIndex {
			t.tel.issue(issueIndexOutOfRange)
			continue
		}
		for len(*dst) <= idx {
			*dst = append(*dst, indexedMsg{})
		}
		m := &(*dst)[idx]
		if isOI {
			field = strings.TrimPrefix(field, "message.")
		}
		setIndexedField(m, field, v)
	}
	if len(ev.Prompt) == 0 && len(prompt)+len(oiIn) > 0 {
		ev.Prompt = appendIndexed(t.a, t.a.messageList(len(prompt)+len(oiIn)), prompt, "user")
		ev.Prompt = appendIndexed(t.a, ev.Prompt, oiIn, "user")
	}
	if len(ev.Completion) == 0 && len(completion)+len(oiOut) > 0 {
		ev.Completion = appendIndexed(t.a, t.a.messageList(len(completion)+len(oiOut)), completion, "assistant")
		ev.Completion = appendIndexed(t.a, ev.Completion, oiOut, "assistant")
	}
}

func setIndexedField(m *indexedMsg, field string, v pcommon.Value) {
	m.set = true
	switch field {
	case "role":
		m.role = v.AsString()
	case "content":
		// OpenLLMetry stores multimodal content as a JSON list of parts.
		s := v.AsString()
		if strings.HasPrefix(s, "[{") {
			s = rawContent(s)
		}
		m.content = s
	case "finish_reason":
		m.finish = v.AsString()
	default:
		// tool_calls.M.name / .arguments (OpenLLMetry) and
		// tool_calls.M.tool_call.function.name / .arguments (OpenInference);
		// contents.M.message_content.text (OpenInference multimodal).
		if rest, ok := strings.CutPrefix(field, "tool_calls."); ok {
			i, sub, ok := splitIndexed(rest)
			if !ok || i >= 64 {
				return
			}
			for len(m.tools) <= i {
				m.tools = append(m.tools, toolCall{})
			}
			switch strings.TrimPrefix(sub, "tool_call.function.") {
			case "name":
				m.tools[i].name = v.AsString()
			case "arguments":
				m.tools[i].args = v.AsString()
			}
			return
		}
		if rest, ok := strings.CutPrefix(field, "contents."); ok {
			if _, sub, ok := splitIndexed(rest); ok && sub == "message_content.text" {
				if m.content != "" {
					m.content += "\n"
				}
				m.content += v.AsString()
			}
		}
	}
}

func appendIndexed(a *arena, out []*eventpb.Message, msgs []indexedMsg, role string) []*eventpb.Message {
	for i := range msgs {
		if !msgs[i].set {
			continue
		}
		if msgs[i].role == "" {
			msgs[i].role = role
		}
		out = append(out, msgs[i].toProto(a))
	}
	return out
}

// knownGenAI are the gen_ai.* keys mapped to event fields; every other
// gen_ai.* key is kept in attributes.
var knownGenAI = map[string]bool{
	"gen_ai.operation.name": true, "gen_ai.provider.name": true, "gen_ai.system": true,
	"gen_ai.request.model": true, "gen_ai.response.model": true, "gen_ai.response.id": true,
	"gen_ai.conversation.id": true, "gen_ai.usage.input_tokens": true, "gen_ai.usage.prompt_tokens": true,
	"gen_ai.usage.output_tokens": true, "gen_ai.usage.completion_tokens": true,
	"gen_ai.response.finish_reasons": true, "gen_ai.input.messages": true, "gen_ai.output.messages": true,
	"gen_ai.system_instructions": true, "gen_ai.retrieval.documents": true, "gen_ai.prompt": true,
	"gen_ai.completion": true,
}

// eventMessages collects the messages of a call's GenAI events: those of
// per-message events and those of details events apart, because a call
// reported both ways must not have its prompt twice. They are used only
// where the span's attributes carried none.
type eventMessages struct {
	prompt, completion       []*eventpb.Message // per-message events
	detPrompt, detCompletion []*eventpb.Message // details events
	details                  bool
}

// Where a call's prompt or completion came from, for merging the log
// events of one call that arrived in several pushes.
const (
	fromNone uint8 = iota
	fromMessages
	fromDetails
)

// apply fills ev's prompt and completion where it has none, details
// first, and reports where each came from.
func (m *eventMessages) apply(ev *eventpb.Event) (promptSrc, complSrc uint8) {
	if len(ev.Prompt) == 0 {
		switch {
		case len(m.detPrompt) > 0:
			ev.Prompt, promptSrc = m.detPrompt, fromDetails
		case len(m.prompt) > 0:
			ev.Prompt, promptSrc = m.prompt, fromMessages
		}
	}
	if len(ev.Completion) == 0 {
		switch {
		case len(m.detCompletion) > 0:
			ev.Completion, complSrc = m.detCompletion, fromDetails
		case len(m.completion) > 0:
			ev.Completion, complSrc = m.completion, fromMessages
		}
	}
	return promptSrc, complSrc
}

const detailsEvent = "gen_ai.client.inference.operation.details"

// isCallEvent reports whether a log record named name describes (part of)
// an LLM call: the names messageEvent reads.
func isCallEvent(name string) bool {
	switch name {
	case detailsEvent, "gen_ai.system.message", "gen_ai.user.message", "gen_ai.assistant.message", "gen_ai.tool.message",
		"gen_ai.choice", "gen_ai.content.prompt", "gen_ai.content.completion":
		return true
	}
	return false
}

// messageEvent reads one GenAI event (span event or log record; body is
// the log body, empty for span events): the details event's labels go
// straight into ev, every event's messages into m. It reports whether
// name was a GenAI message event.
func (t *translator) messageEvent(ev *eventpb.Event, m *eventMessages, name string, attrs pcommon.Map, body pcommon.Value) bool {
	// Per-message events carry the message in the log body (a map, or
	// the bare text) or, as span events, in the attributes.
	src, bodyText := attrs, ""
	switch body.Type() {
	case pcommon.ValueTypeMap:
		if body.Map().Len() > 0 {
			src = body.Map()
		}
	case pcommon.ValueTypeStr:
		bodyText = body.Str()
	}
	switch name {
	case detailsEvent:
		var f fields
		f.scan(attrs)
		if body.Type() == pcommon.ValueTypeMap {
			f.scan(body.Map())
		}
		t.labels(ev, &f)
		// One call may send several details events (the input when the
		// request is made, each output as it completes): their messages
		// add up.
		tmp := &eventpb.Event{}
		t.content(tmp, &f, attrs)
		m.detPrompt = append(m.detPrompt, tmp.Prompt...)
		m.detCompletion = append(m.detCompletion, tmp.Completion...)
		ev.Context = append(ev.Context, tmp.Context...)
		for k, v := range tmp.Attributes {
			if ev.Attributes == nil {
				ev.Attributes = t.a.attributes(len(tmp.Attributes))
			}
			if _, ok := ev.Attributes[k]; !ok {
				ev.Attributes[k] = v
			}
		}
		if ev.Error == nil && f.errType != "" {
			ev.Error = &eventpb.Error{Type: validUTF8(f.errType)}
		}
		m.details = true
	case "gen_ai.system.message", "gen_ai.user.message", "gen_ai.assistant.message", "gen_ai.tool.message":
		msg := anyMessage(t.a, src, strings.TrimSuffix(strings.TrimPrefix(name, "gen_ai."), ".message"), 0)
		if msg.Content == "" && bodyText != "" {
			msg.Content = validUTF8(bodyText)
		}
		m.prompt = append(m.prompt, msg)
	case "gen_ai.choice":
		msg := anyMessage(t.a, src, "assistant", 0)
		if msg.Content == "" && bodyText != "" {
			msg.Content = validUTF8(bodyText)
		}
		m.completion = append(m.completion, msg)
	case "gen_ai.content.prompt":
		if v, ok := attrs.Get("gen_ai.prompt"); ok {
			m.prompt = t.messages(m.prompt, true, v, "user")
		}
	case "gen_ai.content.completion":
		if v, ok := attrs.Get("gen_ai.completion"); ok {
			m.completion = t.messages(m.completion, true, v, "assistant")
		}
	default:
		return false
	}
	return true
}

// logGroup is the log records of one call in one push.
type logGroup struct {
	ev        *eventpb.Event
	msgs      eventMessages
	f         fields
	res       resourceInfo
	first     pcommon.Timestamp
	last      pcommon.Timestamp
	traceID   pcommon.TraceID
	spanID    pcommon.SpanID
	scopeName string
	scopeVer  string
	records   int
}

type logKey struct {
	res     int
	traceID pcommon.TraceID
	spanID  pcommon.SpanID
}

// logs appends the events of the LLM calls in ld to out: one per call,
// the records of a call found by its trace and span id (a details record
// without them is a call of its own).
func (t *translator) logs(ld plog.Logs, out []*eventpb.Event) []*eventpb.Event {
	return t.logsIn(&arena{}, ld, out)
}

// logsIn is logs allocating from a: the events are valid until a is
// reset.
func (t *translator) logsIn(a *arena, ld plog.Logs, out []*eventpb.Event) []*eventpb.Event {
	t = t.withArena(a)
	for _, g := range t.logGroups(ld) {
		ev, _, _ := t.logEvent(g)
		if t.finish(ev) {
			out = append(out, ev)
		}
	}
	return out
}

// logGroups reads the GenAI records of ld into one group per call, in the
// order the calls first appear.
func (t *translator) logGroups(ld plog.Logs) []*logGroup {
	var groups map[logKey]*logGroup
	var order []*logGroup
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		var res resourceInfo
		resDone := false
		sls := rl.ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			sl := sls.At(j)
			lrs := sl.LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				lr := lrs.At(k)
				// The event's name is the record's event_name field (OTLP
				// 1.5 and later); older SDKs set an event.name attribute.
				name := lr.EventName()
				if name == "" {
					if v, ok := lr.Attributes().Get("event.name"); ok {
						name = v.AsString()
					}
				}
				if !isCallEvent(name) {
					// Other records, gen_ai.evaluation.result included
					// (what Sightline itself sends back), are not calls.
					continue
				}
				if !resDone {
					res, resDone = t.resource(rl.Resource()), true
				}
				ts := lr.Timestamp()
				if ts == 0 {
					ts = lr.ObservedTimestamp()
				}
				key := logKey{res: i, traceID: lr.TraceID(), spanID: lr.SpanID()}
				if name == detailsEvent && (key.traceID.IsEmpty() || key.spanID.IsEmpty()) {
					key.res = -1 - len(order) // nothing ties it to other records: a call of its own
				}
				if groups == nil {
					groups = map[logKey]*logGroup{}
				}
				g := groups[key]
				if g == nil {
					g = &logGroup{ev: t.a.event(), res: res, first: ts, last: ts,
						traceID: lr.TraceID(), spanID: lr.SpanID(), scopeName: sl.Scope().Name(), scopeVer: sl.Scope().Version()}
					groups[key] = g
					order = append(order, g)
				}
				g.records++
				if ts < g.first {
					g.first = ts
				}
				if ts > g.last {
					g.last = ts
				}
				if name != detailsEvent {
					g.f.scan(lr.Attributes()) // gen_ai.system, sometimes the model
				}
				t.messageEvent(g.ev, &g.msgs, name, lr.Attributes(), lr.Body())
			}
		}
	}
	return order
}

// logEvent makes the event of one group, not yet checked (finish), and
// reports where its prompt and completion came from.
func (t *translator) logEvent(g *logGroup) (ev *eventpb.Event, promptSrc, complSrc uint8) {
	ev = g.ev
	base := t.build(&g.res, &g.f, pcommon.NewMap())
	mergeLabels(ev, base)
	promptSrc, complSrc = g.msgs.apply(ev)
	if ev.Operation == "" && !g.msgs.details {
		ev.Operation = "chat" // per-message events describe a chat
	}
	ev.SchemaVersion = schemas.CurrentVersion
	ev.TraceId, ev.SpanId = t.a.traceIDs(g.traceID, g.spanID)
	if g.scopeName != "" {
		ev.Sdk = t.a.sdk(validUTF8(g.scopeName), validUTF8(g.scopeVer))
	}
	t.logTimes(ev, g.traceID, g.spanID, g.first, g.last)
	return ev, promptSrc, complSrc
}

// logTimes sets the time, duration and id of a call made of log records
// whose timestamps span first to last.
func (t *translator) logTimes(ev *eventpb.Event, traceID pcommon.TraceID, spanID pcommon.SpanID, first, last pcommon.Timestamp) {
	ev.Ts = t.a.timestamp(uint64(first))
	ev.DurationMs = 0
	if last > first {
		ev.DurationMs = float64(last-first) / 1e6
	}
	if !traceID.IsEmpty() && !spanID.IsEmpty() {
		// Derived like a span's id but in its own namespace: the log
		// records do not know the span's start, and a call sent both
		// as a span and as log events must not collide by accident.
		ev.EventId = t.a.eventID(traceID, spanID, first, idFromLogs)
	} else {
		ev.EventId = t.a.contentEventID(ev, first)
	}
}

// mergeLabels copies base's labels into ev where ev has none.
func mergeLabels(ev, base *eventpb.Event) {
	ev.Tenant = firstNonEmpty(ev.Tenant, base.Tenant)
	ev.App = firstNonEmpty(ev.App, base.App)
	ev.Environment = firstNonEmpty(ev.Environment, base.Environment)
	ev.Provider = firstNonEmpty(ev.Provider, base.Provider)
	ev.Operation = firstNonEmpty(ev.Operation, base.Operation)
	ev.RequestModel = firstNonEmpty(ev.RequestModel, base.RequestModel)
	ev.Model = firstNonEmpty(ev.Model, base.Model)
	ev.ConversationId = firstNonEmpty(ev.ConversationId, base.ConversationId)
	ev.UserId = firstNonEmpty(ev.UserId, base.UserId)
	ev.ResponseId = firstNonEmpty(ev.ResponseId, base.ResponseId)
	ev.Variant = firstNonEmpty(ev.Variant, base.Variant)
	if ev.InputTokens == 0 {
		ev.InputTokens = base.InputTokens
	}
	if ev.OutputTokens == 0 {
		ev.OutputTokens = base.OutputTokens
	}
}

// finish applies the defaults and limits and validates ev; it reports
// whether ev is to be produced. Rejected calls are counted, never fatal.
func (t *translator) finish(ev *eventpb.Event) bool {
	if ev.App == "" {
		ev.App = "unknown_service"
		t.tel.issue(issueMissingService)
	}
	if ev.Model == "" && ev.RequestModel == "" {
		t.tel.drop(dropMissingModel)
		return false
	}
	return t.limits(ev)
}

// limits cuts ev to the size limits and validates it; it reports whether
// ev is to be produced.
func (t *translator) limits(ev *eventpb.Event) bool {
	cut := cutLabels(ev)
	if schemas.Truncate(ev) || cut {
		ev.Truncated = true
		t.tel.issue(issueTruncated)
	}
	if err := schemas.ValidateFields(ev); err != nil {
		t.tel.drop(dropInvalidEvent)
		return false
	}
	return true
}

// cutLabels cuts label fields to schemas.MaxLabelBytes: a long label is
// more useful cut than the whole call rejected.
func cutLabels(ev *eventpb.Event) bool {
	cut := schemas.CutLabels(ev)
	for _, p := range schemas.LabelFields(ev) {
		if p != nil {
			*p = validUTF8(*p)
		}
	}
	return cut
}

// traceIDs returns the hex forms of trace and span id (empty for empty
// ids), sharing one allocation.
func (a *arena) traceIDs(tid pcommon.TraceID, sid pcommon.SpanID) (string, string) {
	var raw [24]byte
	copy(raw[:16], tid[:])
	copy(raw[16:], sid[:])
	h := a.hexString(raw[:])
	t, s := h[:32], h[32:]
	if tid.IsEmpty() {
		t = ""
	}
	if sid.IsEmpty() {
		s = ""
	}
	return t, s
}

// eventID derives the event id from the span: a UUIDv7 whose time is the
// span start and whose other bits are a hash of trace and span id, so the
// collector's retries (and a replayed batch) produce the same id and
// deduplicate downstream.
func (a *arena) eventID(traceID pcommon.TraceID, spanID pcommon.SpanID, start pcommon.Timestamp, ns byte) string {
	h := fnv.New128a()
	_, _ = h.Write([]byte{ns})
	_, _ = h.Write(traceID[:])
	_, _ = h.Write(spanID[:])
	var sum [16]byte
	return a.uuidV7(h.Sum(sum[:0]), start)
}

// Namespaces of derived event ids.
const (
	idFromSpan byte = 's'
	idFromLogs byte = 'l'
)

// contentEventID is the id of a call without trace context: a hash of
// what identifies it.
func (a *arena) contentEventID(ev *eventpb.Event, ts pcommon.Timestamp) string {
	h := fnv.New128a()
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(ts))
	_, _ = h.Write(b[:])
	for _, s := range []string{ev.App, ev.Model, ev.ResponseId, ev.ConversationId} {
		_, _ = h.Write([]byte(s))
		_, _ = h.Write([]byte{0})
	}
	for _, m := range ev.Prompt {
		_, _ = h.Write([]byte(m.Content))
	}
	var sum [16]byte
	return a.uuidV7(h.Sum(sum[:0]), ts)
}

func (a *arena) uuidV7(rnd []byte, ts pcommon.Timestamp) string {
	var u uuid.UUID
	copy(u[:], rnd)
	ms := uint64(ts) / 1e6
	u[0], u[1], u[2] = byte(ms>>40), byte(ms>>32), byte(ms>>24)
	u[3], u[4], u[5] = byte(ms>>16), byte(ms>>8), byte(ms)
	u[6] = 0x70 | u[6]&0x0f // version 7
	u[8] = 0x80 | u[8]&0x3f // RFC 4122 variant
	// The canonical 8-4-4-4-12 form, as uuid.UUID.String writes it.
	b := a.bytes(36)
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return str(b)
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// validUTF8 replaces invalid UTF-8 (which OTLP does not forbid in every
// client) so the event always encodes.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
