package sightlineexporter

import (
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// fields is what one pass over a span's (or log event's) attributes found.
// It holds references into the pdata, never copies, so scanning a span
// that turns out not to be an LLM call costs no allocation.
type fields struct {
	op, provider, system, reqModel, respModel, respID string
	convID, userID, errType, tenant, variant          string
	oiKind, oiModel, oiProvider, oiSystem, reqType    string
	oiReqModel, oiRespModel, oiFinish                 string
	inputValue, outputValue                           string

	inTok, outTok, finish          pcommon.Value
	inMsgs, outMsgs, sysInstr      pcommon.Value
	oldPrompt, oldCompletion, docs pcommon.Value
	oiInTok, oiOutTok, oiParams    pcommon.Value

	hasInTok, hasOutTok, hasFinish, hasOIInTok, hasOIOutTok bool
	hasInMsgs, hasOutMsgs, hasSysInstr, hasDocs             bool
	hasOldPrompt, hasOldCompletion, hasOIParams             bool

	// Indexed attributes (gen_ai.prompt.N.*, llm.input_messages.N.*, ...)
	// need a second pass, done only for calls.
	indexed, oiDocs bool

	// Attributes kept on the event as they are (unknown gen_ai.* keys,
	// llm.invocation_parameters). The first few are remembered here; when
	// there are more (overflow), the second pass collects them all.
	extra    [8]keyValue
	nExtra   int
	overflow bool
}

type keyValue struct {
	k string
	v pcommon.Value
}

// keep remembers an attribute to copy onto the event.
func (f *fields) keep(k string, v pcommon.Value) {
	if f.nExtra == len(f.extra) {
		f.overflow = true
		return
	}
	f.extra[f.nExtra] = keyValue{k, v}
	f.nExtra++
}

// kept returns the attributes remembered by keep.
func (f *fields) kept() []keyValue { return f.extra[:f.nExtra] }

// scan fills f from attrs in one pass.
func (f *fields) scan(attrs pcommon.Map) {
	for k, v := range attrs.All() {
		switch {
		case strings.HasPrefix(k, "gen_ai."):
			f.genAI(k, v)
		case strings.HasPrefix(k, "llm."):
			f.openInference(k, v)
		default:
			f.other(k, v)
		}
	}
}

// genAI reads one gen_ai.* attribute (full is the whole key).
func (f *fields) genAI(full string, v pcommon.Value) {
	k := full[len("gen_ai."):]
	switch k {
	case "operation.name":
		f.op = v.AsString()
	case "provider.name":
		f.provider = v.AsString()
	case "system":
		f.system = v.AsString()
	case "request.model":
		f.reqModel = v.AsString()
	case "response.model":
		f.respModel = v.AsString()
	case "response.id":
		f.respID = v.AsString()
	case "conversation.id":
		f.convID = v.AsString()
	case "usage.input_tokens", "usage.prompt_tokens":
		if !f.hasInTok || k == "usage.input_tokens" { // the current name wins
			f.inTok, f.hasInTok = v, true
		}
	case "usage.output_tokens", "usage.completion_tokens":
		if !f.hasOutTok || k == "usage.output_tokens" {
			f.outTok, f.hasOutTok = v, true
		}
	case "response.finish_reasons":
		f.finish, f.hasFinish = v, true
	case "input.messages":
		f.inMsgs, f.hasInMsgs = v, true
	case "output.messages":
		f.outMsgs, f.hasOutMsgs = v, true
	case "system_instructions":
		f.sysInstr, f.hasSysInstr = v, true
	case "retrieval.documents":
		f.docs, f.hasDocs = v, true
	case "prompt": // older: the whole prompt as one JSON string
		f.oldPrompt, f.hasOldPrompt = v, true
	case "completion":
		f.oldCompletion, f.hasOldCompletion = v, true
	default:
		if isIndexed(k, "prompt.") || isIndexed(k, "completion.") {
			f.indexed = true
		} else {
			f.keep(full, v)
		}
	}
}

// openInference reads one llm.* attribute (full is the whole key).
func (f *fields) openInference(full string, v pcommon.Value) {
	k := full[len("llm."):]
	switch k {
	case "model_name":
		f.oiModel = v.AsString()
	case "request.model_name":
		f.oiReqModel = v.AsString()
	case "response.model_name":
		f.oiRespModel = v.AsString()
	case "finish_reason":
		f.oiFinish = v.AsString()
	case "provider":
		f.oiProvider = v.AsString()
	case "system":
		f.oiSystem = v.AsString()
	case "request.type": // OpenLLMetry
		f.reqType = v.AsString()
	case "token_count.prompt":
		f.oiInTok, f.hasOIInTok = v, true
	case "token_count.completion":
		f.oiOutTok, f.hasOIOutTok = v, true
	case "invocation_parameters":
		// The request model and parameters (JSON); kept as it is too.
		f.oiParams, f.hasOIParams = v, true
		f.keep(full, v)
	default:
		if isIndexed(k, "input_messages.") || isIndexed(k, "output_messages.") {
			f.indexed = true
		}
	}
}

func (f *fields) other(k string, v pcommon.Value) {
	switch k {
	case "openinference.span.kind":
		f.oiKind = v.AsString()
	case "input.value":
		f.inputValue = v.AsString()
	case "output.value":
		f.outputValue = v.AsString()
	case "session.id":
		if f.convID == "" {
			f.convID = v.AsString()
		}
	case "user.id", "enduser.id":
		f.userID = v.AsString()
	case "error.type":
		f.errType = v.AsString()
	case "sightline.tenant":
		f.tenant = v.AsString()
	case "sightline.variant":
		f.variant = v.AsString()
	default:
		if strings.HasPrefix(k, "retrieval.documents.") {
			f.oiDocs = true
		}
	}
}

// isIndexed reports whether k is prefix followed by a decimal index and a
// dot, e.g. "prompt.0.content".
func isIndexed(k, prefix string) bool {
	if !strings.HasPrefix(k, prefix) {
		return false
	}
	rest := k[len(prefix):]
	i := 0
	for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
		i++
	}
	return i > 0 && i < len(rest) && rest[i] == '.'
}

// splitIndexed splits "3.message.role" into 3 and "message.role".
func splitIndexed(rest string) (int, string, bool) {
	n, i := 0, 0
	for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
		if n <= 1<<20 { // beyond, n stays large: the caller's bound rejects it
			n = n*10 + int(rest[i]-'0')
		}
		i++
	}
	if i == 0 || i >= len(rest) || rest[i] != '.' {
		return 0, "", false
	}
	return n, rest[i+1:], true
}

// generation operations are LLM calls; the other well-known operations are
// not (an agent span wraps calls that have their own spans; embeddings and
// tool executions have no completion to score).
func (f *fields) isCall() bool {
	switch f.op {
	case "chat", "text_completion", "generate_content", "completion":
		return true
	case "embeddings", "embedding", "execute_tool", "invoke_agent", "create_agent", "retrieval":
		return false
	}
	if f.oiKind != "" {
		return strings.EqualFold(f.oiKind, "LLM")
	}
	switch f.reqType {
	case "chat", "completion":
		return true
	case "embedding", "rerank":
		return false
	}
	return f.reqModel != "" || f.respModel != "" || f.provider != "" || f.system != "" ||
		f.oiModel != "" || f.oiReqModel != "" || f.oiRespModel != "" || f.indexed || f.hasInMsgs || f.hasOutMsgs || f.hasOldPrompt
}

// isRetrieval reports whether the span retrieved documents that later
// calls in the trace use as context.
func (f *fields) isRetrieval() bool {
	return (f.op == "retrieval" && f.hasDocs) || (strings.EqualFold(f.oiKind, "RETRIEVER") && f.oiDocs)
}
