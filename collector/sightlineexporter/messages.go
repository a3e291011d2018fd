package sightlineexporter

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/sightline-dev/sightline/schemas/eventpb"
)

// The message shapes instrumentations send, read by one lenient decoder
// from JSON text (spans) and one from structured values (log events):
//
//   - current GenAI conventions: {"role", "parts": [part, ...], "finish_reason"},
//     a part being {"type": "text", "content"}, {"type": "tool_call", "id",
//     "name", "arguments"}, {"type": "tool_call_response", "id", "response"},
//     {"type": "reasoning", "content"} or media (blob, uri, file);
//   - OpenAI-style (older gen_ai.prompt / gen_ai.completion JSON, OpenLLMetry,
//     per-message event bodies): {"role", "content": "text" | [{"type":
//     "text", "text"}, ...], "tool_calls": [{"id", "type", "function":
//     {"name", "arguments"}}]};
//   - choice events: {"index", "finish_reason", "message": {"role", "content", "tool_calls"}};
//   - system instructions: a list of parts, each read as one message.

var errNotMessages = errors.New("not a list of messages")

// messagesFromValue decodes a message list held in an attribute: a JSON
// string on spans, a structured value on log events. A plain non-JSON
// string is one message of defaultRole.
func messagesFromValue(a *arena, v pcommon.Value, defaultRole string, out []*eventpb.Message) ([]*eventpb.Message, error) {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return messagesFromString(a, v.Str(), defaultRole, out)
	case pcommon.ValueTypeSlice, pcommon.ValueTypeMap:
		return messagesFromAny(a, v, defaultRole, out)
	case pcommon.ValueTypeEmpty:
		return out, nil
	default:
		return out, errNotMessages
	}
}

func messagesFromString(a *arena, s, defaultRole string, out []*eventpb.Message) ([]*eventpb.Message, error) {
	p := scanner{s: s, a: a}
	n := len(out)
	switch p.peek() {
	case 0:
		return out, nil
	case '[':
		p.i++
		for first := true; p.next(']', first); first = false {
			m, ok := p.message(defaultRole, 0)
			if !ok {
				return out[:n], errJSON
			}
			out = append(out, m)
		}
		if !p.end() {
			return out[:n], errJSON
		}
		return out, nil
	case '{':
		m, ok := p.message(defaultRole, 0)
		if !ok || !p.end() {
			return out, errJSON
		}
		return append(out, m), nil
	default:
		// Some instrumentations record the bare text.
		return append(out, a.message(defaultRole, validUTF8(s), "")), nil
	}
}

// message reads one message object.
func (p *scanner) message(defaultRole string, depth int) (*eventpb.Message, bool) {
	if depth > 4 {
		return nil, p.fail()
	}
	var (
		role, content, finish string
		partBuf               [4]part
		parts                 = partBuf[:0]
		calls                 []part
		hasContent, hasParts  bool
		inner                 *eventpb.Message
	)
	if !p.enter('{') {
		return nil, false
	}
	for first := true; p.next('}', first); first = false {
		k, ok := p.key()
		if !ok {
			return nil, false
		}
		switch k {
		case "role":
			role, ok = p.strOrNull()
		case "content":
			content, ok = p.text(0)
			hasContent = true
		case "parts":
			if p.peek() == 'n' {
				_, ok = p.literal("null")
			} else {
				parts, ok = p.parts(parts, 0)
				hasParts = len(parts) > 0
			}
		case "finish_reason":
			finish, ok = p.strOrNull()
		case "message":
			if p.peek() == 'n' {
				_, ok = p.literal("null")
			} else {
				inner, ok = p.message(defaultRole, depth+1)
			}
		case "tool_calls":
			if p.peek() == 'n' {
				_, ok = p.literal("null")
			} else {
				calls, ok = p.toolCalls(calls)
			}
		default:
			_, ok = p.skip(0)
		}
		if !ok {
			return nil, false
		}
	}
	if p.err != nil {
		return nil, false
	}
	if inner != nil && role == "" && !hasParts && !hasContent && len(calls) == 0 {
		if inner.FinishReason == "" {
			inner.FinishReason = validUTF8(finish)
		}
		return inner, true
	}
	if role == "" {
		role = defaultRole
	}
	if hasParts {
		content = renderParts(parts)
	}
	content = withToolCalls(content, calls)
	return p.a.message(validUTF8(role), validUTF8(content), validUTF8(finish)), true
}

// toolCalls reads OpenAI-style tool calls, [{"id", "type", "function":
// {"name", "arguments"}}], as tool_call parts.
func (p *scanner) toolCalls(out []part) ([]part, bool) {
	if !p.enter('[') {
		return out, false
	}
	for first := true; p.next(']', first); first = false {
		if !p.enter('{') {
			return out, false
		}
		pt := part{typ: "tool_call"}
		for first := true; p.next('}', first); first = false {
			k, ok := p.key()
			if !ok {
				return out, false
			}
			switch k {
			case "function":
				if p.peek() != '{' {
					_, ok = p.skip(0)
					break
				}
				p.i++
				for first := true; p.next('}', first); first = false {
					fk, ok := p.key()
					if !ok {
						return out, false
					}
					switch fk {
					case "name":
						pt.name, ok = p.strOrNull()
					case "arguments":
						pt.args, ok = p.arguments()
					default:
						_, ok = p.skip(0)
					}
					if !ok {
						return out, false
					}
				}
			case "name":
				pt.name, ok = p.strOrNull()
			case "arguments":
				pt.args, ok = p.arguments()
			default:
				_, ok = p.skip(0)
			}
			if !ok {
				return out, false
			}
		}
		out = append(out, pt)
	}
	return out, p.err == nil
}

// withToolCalls appends the rendered tool calls to a message's text.
func withToolCalls(content string, calls []part) string {
	if len(calls) == 0 {
		return content
	}
	var b strings.Builder
	b.WriteString(content)
	for i := range calls {
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(toolCallText(&calls[i]))
	}
	return b.String()
}

func toolCallText(pt *part) string { return "tool_call " + pt.name + "(" + pt.args + ")" }

func (p *scanner) strOrNull() (string, bool) {
	if p.peek() == 'n' {
		_, ok := p.literal("null")
		return "", ok
	}
	return p.str()
}

// part is one element of a message's parts, its fields already rendered
// as text.
type part struct {
	typ, content, text, name, args, response string
}

func (p *scanner) parts(out []part, depth int) ([]part, bool) {
	if !p.enter('[') {
		return out, false
	}
	for first := true; p.next(']', first); first = false {
		if !p.enter('{') {
			return out, false
		}
		var pt part
		for first := true; p.next('}', first); first = false {
			k, ok := p.key()
			if !ok {
				return out, false
			}
			switch k {
			case "type":
				pt.typ, ok = p.strOrNull()
			case "content":
				pt.content, ok = p.text(depth + 1)
			case "text":
				pt.text, ok = p.strOrNull()
			case "name":
				pt.name, ok = p.strOrNull()
			case "arguments":
				pt.args, ok = p.arguments()
			case "response", "result":
				pt.response, ok = p.text(depth + 1)
			default:
				_, ok = p.skip(0)
			}
			if !ok {
				return out, false
			}
		}
		out = append(out, pt)
	}
	return out, p.err == nil
}

// text reads a content value: a string as is, a list of parts as their
// text, anything else as its JSON text.
func (p *scanner) text(depth int) (string, bool) {
	switch p.peek() {
	case '"':
		return p.str()
	case 'n':
		_, ok := p.literal("null")
		return "", ok
	case '[':
		if depth < 4 {
			save := p.i
			if parts, ok := p.parts(nil, depth); ok {
				return renderParts(parts), true
			}
			p.i, p.err = save, nil // not a list of parts: keep the JSON text
		}
	}
	return p.skip(0)
}

// arguments reads tool call arguments: a JSON document inside a string
// (OpenAI) or the document itself, rendered compact.
func (p *scanner) arguments() (string, bool) {
	if p.peek() == '"' {
		return p.str()
	}
	raw, ok := p.skip(0)
	if !ok {
		return "", false
	}
	var b bytes.Buffer
	if json.Compact(&b, []byte(raw)) == nil {
		return b.String(), true
	}
	return raw, true
}

// renderParts joins the parts of one message into its text: text parts as
// they are, tool calls and their responses in a short readable form, media
// as a placeholder (the bytes are not content the detectors can read).
// Reasoning parts are left out: they are not what the model answered.
func renderParts(parts []part) string {
	if len(parts) == 1 && (parts[0].typ == "text" || parts[0].typ == "") {
		return partText(&parts[0])
	}
	var b strings.Builder
	for i := range parts {
		pt := &parts[i]
		var s string
		switch pt.typ {
		case "text", "":
			s = partText(pt)
		case "reasoning", "thinking":
			continue
		case "tool_call", "function_call":
			s = toolCallText(pt)
		case "tool_call_response", "function_call_response", "tool_result":
			s = pt.response
			if s == "" {
				s = pt.content
			}
		default:
			s = "[" + pt.typ + "]"
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(s)
	}
	return b.String()
}

func partText(pt *part) string {
	if pt.content != "" {
		return pt.content
	}
	return pt.text
}

// rawContent renders content held as JSON text: a JSON string unquoted, a
// list of parts as their text, anything else (including text that is not
// JSON) as it is.
func rawContent(s string) string {
	p := scanner{s: s}
	switch p.peek() {
	case 0:
		return ""
	case '"', '[', 'n':
		if t, ok := p.text(0); ok && p.end() {
			return t
		}
	}
	return s
}

// documentsFromValue decodes gen_ai.retrieval.documents: a list of
// {"id", "score", "content"} (content under "content", "text" or
// "page_content", depending on the instrumentation). Documents without
// text are skipped: only text is context the detectors can use.
func documentsFromValue(v pcommon.Value, out []string) ([]string, error) {
	s := v.AsString()
	p := scanner{s: s}
	switch p.peek() {
	case 0:
		return out, nil
	case 'n':
		if _, ok := p.literal("null"); ok && p.end() {
			return out, nil
		}
		return out, errJSON
	case '[':
	default:
		return append(out, validUTF8(s)), nil
	}
	n := len(out)
	p.i++
	for first := true; p.next(']', first); first = false {
		if p.peek() == '"' { // a bare list of passages
			d, ok := p.str()
			if !ok {
				return out[:n], errJSON
			}
			if d != "" {
				out = append(out, validUTF8(d))
			}
			continue
		}
		if !p.enter('{') {
			return out[:n], errJSON
		}
		var content, text, page string
		for first := true; p.next('}', first); first = false {
			k, ok := p.key()
			if !ok {
				return out[:n], errJSON
			}
			switch k {
			case "content":
				content, ok = p.text(0)
			case "text":
				text, ok = p.strOrNull()
			case "page_content":
				page, ok = p.strOrNull()
			default:
				_, ok = p.skip(0)
			}
			if !ok {
				return out[:n], errJSON
			}
		}
		if c := firstNonEmpty(content, text, page); c != "" {
			out = append(out, validUTF8(c))
		}
	}
	if !p.end() {
		return out[:n], errJSON
	}
	return out, nil
}

// maxAnyDepth bounds how deep the structured reader follows nested
// messages and parts; deeper values are kept as their JSON text.
const maxAnyDepth = 4

// messagesFromAny decodes a message list held as a structured value, as
// log events carry gen_ai.input.messages and the bodies of per-message
// events: a list of messages (or, for system instructions, of parts),
// or one message. It reads the pdata values directly, in the shapes
// messagesFromString reads from JSON text.
func messagesFromAny(a *arena, v pcommon.Value, defaultRole string, out []*eventpb.Message) ([]*eventpb.Message, error) {
	switch v.Type() {
	case pcommon.ValueTypeMap:
		return append(out, anyMessage(a, v.Map(), defaultRole, 0)), nil
	case pcommon.ValueTypeSlice:
		s := v.Slice()
		n := len(out)
		for i := 0; i < s.Len(); i++ {
			e := s.At(i)
			switch e.Type() {
			case pcommon.ValueTypeMap:
				out = append(out, anyMessage(a, e.Map(), defaultRole, 0))
			case pcommon.ValueTypeStr: // a bare list of texts
				out = append(out, a.message(validUTF8(defaultRole), validUTF8(e.Str()), ""))
			default:
				return out[:n], errNotMessages
			}
		}
		return out, nil
	case pcommon.ValueTypeEmpty:
		return out, nil
	default:
		return out, errNotMessages
	}
}

// anyMessage reads one message (or a choice holding one) from a map.
func anyMessage(a *arena, m pcommon.Map, defaultRole string, depth int) *eventpb.Message {
	var (
		role, content, finish string
		partBuf               [4]part
		parts                 = partBuf[:0]
		calls                 []part
		hasContent            bool
		inner                 *eventpb.Message
	)
	for k, v := range m.All() {
		switch k {
		case "role":
			role = anyStr(v)
		case "content":
			content, hasContent = anyText(v, depth), true
		case "message.content": // flattened by some instrumentations
			if !hasContent {
				content, hasContent = anyText(v, depth), true
			}
		case "parts":
			if v.Type() == pcommon.ValueTypeSlice {
				parts = anyParts(v.Slice(), parts, depth)
			}
		case "finish_reason":
			finish = anyStr(v)
		case "message":
			switch {
			case depth >= maxAnyDepth:
			case v.Type() == pcommon.ValueTypeMap:
				inner = anyMessage(a, v.Map(), defaultRole, depth+1)
			case v.Type() == pcommon.ValueTypeStr:
				// A choice whose message is JSON text.
				if msgs, err := messagesFromString(a, v.Str(), defaultRole, nil); err == nil && len(msgs) == 1 {
					inner = msgs[0]
				} else {
					content, hasContent = v.Str(), true
				}
			}
		case "tool_calls":
			if v.Type() == pcommon.ValueTypeSlice {
				calls = anyToolCalls(v.Slice(), calls)
			}
		}
	}
	if inner != nil && role == "" && len(parts) == 0 && !hasContent && len(calls) == 0 {
		if inner.FinishReason == "" {
			inner.FinishReason = validUTF8(finish)
		}
		return inner
	}
	if role == "" {
		role = defaultRole
	}
	if len(parts) > 0 {
		content = renderParts(parts)
	}
	content = withToolCalls(content, calls)
	return a.message(validUTF8(role), validUTF8(content), validUTF8(finish))
}

// anyStr is a label-like value: a string as it is, null as empty.
func anyStr(v pcommon.Value) string {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return v.Str()
	case pcommon.ValueTypeEmpty:
		return ""
	default:
		return v.AsString()
	}
}

// anyText reads a content value: a string as it is, a list of parts as
// their text, anything else as its JSON text.
func anyText(v pcommon.Value, depth int) string {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return v.Str()
	case pcommon.ValueTypeEmpty:
		return ""
	case pcommon.ValueTypeSlice:
		if depth < maxAnyDepth && isPartList(v.Slice()) {
			var buf [4]part
			return renderParts(anyParts(v.Slice(), buf[:0], depth+1))
		}
	}
	return v.AsString()
}

// isPartList reports whether every element of s is a map with a type or
// text, as parts are.
func isPartList(s pcommon.Slice) bool {
	for i := 0; i < s.Len(); i++ {
		e := s.At(i)
		if e.Type() != pcommon.ValueTypeMap {
			return false
		}
		_, typ := e.Map().Get("type")
		_, text := e.Map().Get("text")
		_, content := e.Map().Get("content")
		if !typ && !text && !content {
			return false
		}
	}
	return s.Len() > 0
}

func anyParts(s pcommon.Slice, out []part, depth int) []part {
	for i := 0; i < s.Len(); i++ {
		e := s.At(i)
		switch e.Type() {
		case pcommon.ValueTypeMap:
		case pcommon.ValueTypeStr:
			out = append(out, part{typ: "text", content: e.Str()})
			continue
		default:
			continue
		}
		var pt part
		for k, v := range e.Map().All() {
			switch k {
			case "type":
				pt.typ = anyStr(v)
			case "content":
				pt.content = anyText(v, depth+1)
			case "text":
				pt.text = anyStr(v)
			case "name":
				pt.name = anyStr(v)
			case "arguments":
				pt.args = anyArgs(v)
			case "response", "result":
				pt.response = anyText(v, depth+1)
			}
		}
		out = append(out, pt)
	}
	return out
}

// anyToolCalls reads OpenAI-style tool calls as tool_call parts.
func anyToolCalls(s pcommon.Slice, out []part) []part {
	for i := 0; i < s.Len(); i++ {
		e := s.At(i)
		if e.Type() != pcommon.ValueTypeMap {
			continue
		}
		pt := part{typ: "tool_call"}
		m := e.Map()
		if fn, ok := m.Get("function"); ok && fn.Type() == pcommon.ValueTypeMap {
			m = fn.Map()
		}
		if v, ok := m.Get("name"); ok {
			pt.name = anyStr(v)
		}
		if v, ok := m.Get("arguments"); ok {
			pt.args = anyArgs(v)
		}
		out = append(out, pt)
	}
	return out
}

// anyArgs renders tool call arguments: a string (OpenAI sends JSON text)
// as it is, a structured value as compact JSON.
func anyArgs(v pcommon.Value) string {
	if v.Type() == pcommon.ValueTypeStr {
		return v.Str()
	}
	return v.AsString()
}
