package sdk

import (
	"encoding/json"
	"strings"
)

// Anthropic Messages API (POST /v1/messages), as far as a call record
// needs it: the request's system prompt and messages, the response's text
// blocks, stop reason and usage, streamed or not.

type anMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"` // a string or content blocks
}

type anRequest struct {
	Model    string          `json:"model"`
	System   json.RawMessage `json:"system"` // a string or text blocks
	Messages []anMessage     `json:"messages"`
	Metadata *struct {
		UserID string `json:"user_id"`
	} `json:"metadata"`
}

type anUsage struct {
	InputTokens              int64 `json:"input_tokens"`
	OutputTokens             int64 `json:"output_tokens"`
	CacheCreationInputTokens int64 `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int64 `json:"cache_read_input_tokens"`
}

// input is every token of the prompt: Anthropic counts cache writes and
// reads apart from input_tokens; the event's input_tokens is the whole
// prompt, as the GenAI conventions count it.
func (u *anUsage) input() int64 {
	return u.InputTokens + u.CacheCreationInputTokens + u.CacheReadInputTokens
}

type anBlock struct {
	Type  string          `json:"type"`
	Text  string          `json:"text"`
	Name  string          `json:"name"`
	Input json.RawMessage `json:"input"`
}

type anResponse struct {
	Type       string    `json:"type"`
	ID         string    `json:"id"`
	Model      string    `json:"model"`
	Role       string    `json:"role"`
	Content    []anBlock `json:"content"`
	StopReason string    `json:"stop_reason"`
	Usage      *anUsage  `json:"usage"`
	Error      *struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"error"`
}

// anBlocksText renders response content blocks: text as it is, tool use
// as a short call line (as the collector renders tool calls).
func anBlocksText(blocks []anBlock) string {
	var sb strings.Builder
	for _, b := range blocks {
		var s string
		switch b.Type {
		case "text":
			s = b.Text
		case "tool_use":
			s = "tool_call " + b.Name + "(" + string(b.Input) + ")"
		default:
			continue
		}
		if sb.Len() > 0 {
			sb.WriteByte('\n')
		}
		sb.WriteString(s)
	}
	return sb.String()
}

// anStreamEvent is one server-sent event of a streamed message.
type anStreamEvent struct {
	Type    string      `json:"type"`
	Index   int         `json:"index"`
	Message *anResponse `json:"message"` // message_start
	Block   *anBlock    `json:"content_block"`
	Delta   *struct {
		Type        string `json:"type"`
		Text        string `json:"text"`
		PartialJSON string `json:"partial_json"`
		StopReason  string `json:"stop_reason"`
	} `json:"delta"`
	Usage *anUsage `json:"usage"` // message_delta: the output so far
	Error *struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"error"`
}

func (ex *exchange) parseAnthropic(call *Call) {
	call.Provider = "anthropic"
	call.Operation = "chat"
	var rq anRequest
	if json.Unmarshal(ex.req, &rq) == nil {
		call.RequestModel = rq.Model
		if rq.Metadata != nil {
			call.UserID = rq.Metadata.UserID
		}
		if sys := content(rq.System); sys != "" {
			call.Prompt = append(call.Prompt, Message{Role: "system", Content: sys})
		}
		for _, m := range rq.Messages {
			call.Prompt = append(call.Prompt, Message{Role: m.Role, Content: content(m.Content)})
		}
	}
	switch {
	case ex.failed(call, func(b []byte) (string, string, bool) {
		var r anResponse
		if json.Unmarshal(b, &r) != nil || r.Error == nil {
			return "", "", false
		}
		return r.Error.Type, r.Error.Message, true
	}):
	case ex.stream:
		ex.parseAnthropicStream(call)
	default:
		var r anResponse
		if err := json.Unmarshal(ex.resp, &r); err != nil {
			call.ErrorType = "unparsable_response"
			return
		}
		call.ResponseID, call.Model = r.ID, r.Model
		role := r.Role
		if role == "" {
			role = "assistant"
		}
		call.Completion = append(call.Completion, Message{Role: role, Content: anBlocksText(r.Content), FinishReason: r.StopReason})
		if r.Usage != nil {
			call.InputTokens, call.OutputTokens = r.Usage.input(), r.Usage.OutputTokens
		}
	}
}

func (ex *exchange) parseAnthropicStream(call *Call) {
	var (
		blocks  []anBlock
		texts   [][]byte // text per block
		partial [][]byte // tool input JSON per block
		stop    string
		done    bool
	)
	for data := range sseData(ex.resp) { // "event:" lines repeat the type the data carries
		var e anStreamEvent
		if json.Unmarshal(data, &e) != nil {
			continue
		}
		grow := func() bool {
			if e.Index < 0 || e.Index > 127 {
				return false
			}
			for len(blocks) <= e.Index {
				blocks = append(blocks, anBlock{})
				texts, partial = append(texts, nil), append(partial, nil)
			}
			return true
		}
		switch e.Type {
		case "message_start":
			if m := e.Message; m != nil {
				call.ResponseID, call.Model = m.ID, m.Model
				if m.Usage != nil {
					call.InputTokens, call.OutputTokens = m.Usage.input(), m.Usage.OutputTokens
				}
			}
		case "content_block_start":
			if e.Block != nil && grow() {
				blocks[e.Index] = anBlock{Type: e.Block.Type, Name: e.Block.Name}
				texts[e.Index] = append(texts[e.Index][:0], e.Block.Text...)
			}
		case "content_block_delta":
			if e.Delta != nil && grow() {
				switch e.Delta.Type {
				case "text_delta":
					if blocks[e.Index].Type == "" {
						blocks[e.Index].Type = "text" // a delta without its start event
					}
					texts[e.Index] = append(texts[e.Index], e.Delta.Text...)
				case "input_json_delta":
					partial[e.Index] = append(partial[e.Index], e.Delta.PartialJSON...)
				}
			}
		case "message_delta":
			if e.Delta != nil && e.Delta.StopReason != "" {
				stop = e.Delta.StopReason
			}
			if e.Usage != nil {
				// Cumulative; input counts appear here too on some versions.
				call.OutputTokens = e.Usage.OutputTokens
				if in := e.Usage.input(); in > 0 {
					call.InputTokens = in
				}
			}
		case "message_stop":
			done = true
		case "error":
			if e.Error != nil {
				call.ErrorType, call.ErrorMessage = e.Error.Type, e.Error.Message
			}
		}
	}
	for i := range blocks {
		blocks[i].Text = string(texts[i])
		if blocks[i].Type == "tool_use" {
			blocks[i].Input = json.RawMessage(partial[i])
		}
	}
	if len(blocks) > 0 || stop != "" {
		call.Completion = append(call.Completion, Message{Role: "assistant", Content: anBlocksText(blocks), FinishReason: stop})
	}
	if !done && ex.status < 400 {
		if call.Attributes == nil {
			call.Attributes = map[string]string{}
		}
		call.Attributes["sightline.stream_incomplete"] = "true"
	}
}
