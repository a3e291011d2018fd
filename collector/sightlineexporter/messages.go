package sightlineexporter

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/sightline-dev/sightline/schemas/eventpb"
)

// The message shapes instrumentations send, read by one lenient decoder:
//
//   - current GenAI conventions: {"role", "parts": [{"type": "text", "content"}, ...], "finish_reason"}
//   - OpenAI-style (older gen_ai.prompt / gen_ai.completion JSON, OpenLLMetry):
//     {"role", "content": "text" | [{"type": "text", "text"}, ...]}
//   - choice events: {"index", "finish_reason", "message": {"role", "content"}}
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
		// Structured values are rare (log events only): their JSON form
		// goes through the same decoder.
		return messagesFromString(a, v.AsString(), defaultRole, out)
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
	if inner != nil && role == "" && !hasParts && !hasContent {
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
	return p.a.message(validUTF8(role), validUTF8(content), validUTF8(finish)), true
}

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
			s = "tool_call " + pt.name + "(" + pt.args + ")"
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
