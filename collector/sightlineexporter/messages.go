package sightlineexporter

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/sightline-dev/sightline/schemas/eventpb"
)

// The message shapes instrumentations send, in one lenient JSON form:
//
//   - current GenAI conventions: {"role", "parts": [{"type": "text", "content"}, ...], "finish_reason"}
//   - OpenAI-style (older gen_ai.prompt / gen_ai.completion JSON, OpenLLMetry):
//     {"role", "content": "text" | [{"type": "text", "text"}, ...]}
//   - choice events: {"index", "finish_reason", "message": {"role", "content"}}
type jsonMessage struct {
	Role         string          `json:"role"`
	Content      json.RawMessage `json:"content"`
	Parts        []jsonPart      `json:"parts"`
	FinishReason string          `json:"finish_reason"`
	Message      *jsonMessage    `json:"message"`
}

type jsonPart struct {
	Type      string          `json:"type"`
	Content   json.RawMessage `json:"content"`
	Text      string          `json:"text"`
	Name      string          `json:"name"`
	Arguments json.RawMessage `json:"arguments"`
	Response  json.RawMessage `json:"response"`
}

var errNotMessages = errors.New("not a list of messages")

// messagesFromValue decodes a message list held in an attribute: a JSON
// string on spans, a structured value on log events. A plain non-JSON
// string is one message of defaultRole.
func messagesFromValue(v pcommon.Value, defaultRole string, out []*eventpb.Message) ([]*eventpb.Message, error) {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return messagesFromString(v.Str(), defaultRole, out)
	case pcommon.ValueTypeSlice, pcommon.ValueTypeMap:
		// Structured values are rare (log events only): their JSON form
		// goes through the same decoder.
		return messagesFromString(v.AsString(), defaultRole, out)
	case pcommon.ValueTypeEmpty:
		return out, nil
	default:
		return out, errNotMessages
	}
}

func messagesFromString(s, defaultRole string, out []*eventpb.Message) ([]*eventpb.Message, error) {
	t := strings.TrimLeft(s, " \t\r\n")
	if t == "" {
		return out, nil
	}
	switch t[0] {
	case '[':
		var msgs []jsonMessage
		if err := json.Unmarshal([]byte(t), &msgs); err != nil {
			return out, err
		}
		for i := range msgs {
			out = append(out, msgs[i].toProto(defaultRole))
		}
		return out, nil
	case '{':
		var m jsonMessage
		if err := json.Unmarshal([]byte(t), &m); err != nil {
			return out, err
		}
		return append(out, m.toProto(defaultRole)), nil
	default:
		// Some instrumentations record the bare text.
		return append(out, &eventpb.Message{Role: defaultRole, Content: validUTF8(s)}), nil
	}
}

func (m *jsonMessage) toProto(defaultRole string) *eventpb.Message {
	if m.Message != nil && m.Role == "" && len(m.Parts) == 0 && len(m.Content) == 0 {
		inner := m.Message.toProto(defaultRole)
		if inner.FinishReason == "" {
			inner.FinishReason = m.FinishReason
		}
		return inner
	}
	role := m.Role
	if role == "" {
		role = defaultRole
	}
	var content string
	if len(m.Parts) > 0 {
		content = renderParts(m.Parts)
	} else {
		content = rawContent(m.Content)
	}
	return &eventpb.Message{Role: validUTF8(role), Content: validUTF8(content), FinishReason: validUTF8(m.FinishReason)}
}

// rawContent renders a message's "content": a string as is, an array of
// OpenAI-style parts as their text, anything else as its JSON text.
func rawContent(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	switch raw[0] {
	case '"':
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
	case '[':
		var parts []jsonPart
		if json.Unmarshal(raw, &parts) == nil {
			return renderParts(parts)
		}
	}
	return string(raw)
}

// renderParts joins the parts of one message into its text: text parts as
// they are, tool calls and their responses in a short readable form, media
// as a placeholder (the bytes are not content the detectors can read).
// Reasoning parts are left out: they are not what the model answered.
func renderParts(parts []jsonPart) string {
	if len(parts) == 1 && (parts[0].Type == "text" || parts[0].Type == "") {
		return partText(&parts[0])
	}
	var b strings.Builder
	for i := range parts {
		p := &parts[i]
		var s string
		switch p.Type {
		case "text", "":
			s = partText(p)
		case "reasoning", "thinking":
			continue
		case "tool_call", "function_call":
			s = "tool_call " + p.Name + "(" + compactJSON(p.Arguments) + ")"
		case "tool_call_response", "function_call_response", "tool_result":
			s = rawContent(p.Response)
			if s == "" {
				s = rawContent(p.Content)
			}
		default:
			s = "[" + p.Type + "]"
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(s)
	}
	return b.String()
}

func partText(p *jsonPart) string {
	if len(p.Content) > 0 {
		return rawContent(p.Content)
	}
	return p.Text
}

func compactJSON(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ""
	}
	if raw[0] == '"' { // arguments are often a JSON document inside a string
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) == nil {
		return b.String()
	}
	return string(raw)
}

// documentsFromValue decodes gen_ai.retrieval.documents: a list of
// {"id", "score", "content"} (content under "content", "text" or
// "page_content", depending on the instrumentation). Documents without
// text are skipped: only text is context the detectors can use.
func documentsFromValue(v pcommon.Value, out []string) ([]string, error) {
	s := v.AsString()
	t := strings.TrimSpace(s)
	if t == "" {
		return out, nil
	}
	if t[0] != '[' {
		return append(out, validUTF8(s)), nil
	}
	var docs []struct {
		Content     json.RawMessage `json:"content"`
		Text        string          `json:"text"`
		PageContent string          `json:"page_content"`
	}
	if err := json.Unmarshal([]byte(t), &docs); err != nil {
		return out, err
	}
	for _, d := range docs {
		c := rawContent(d.Content)
		if c == "" {
			c = d.Text
		}
		if c == "" {
			c = d.PageContent
		}
		if c != "" {
			out = append(out, validUTF8(c))
		}
	}
	return out, nil
}
