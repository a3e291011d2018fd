package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"iter"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// maxCapture bounds how much of one request or response the transport keeps
// for parsing; beyond it the call is still recorded, with what was parsed.
const maxCapture = 8 << 20

type ctxKey struct{}

// WithRequest attaches call metadata the transport cannot see in the HTTP
// exchange (RAG context, reference, variant, segments, ...) to a request
// context. Fields set here take precedence over what is parsed.
func WithRequest(ctx context.Context, r Request) context.Context {
	return context.WithValue(ctx, ctxKey{}, &r)
}

// Transport returns an http.RoundTripper that records every chat-completions
// call of an OpenAI-compatible API (POST .../chat/completions) and every
// Anthropic Messages call (POST .../v1/messages) going through base (nil
// means http.DefaultTransport). Streaming (SSE) and plain JSON responses are
// both recorded; the application receives exactly the bytes the server sent.
//
//	httpClient := &http.Client{Transport: client.Transport(nil)}
func (c *Client) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{c: c, base: base}
}

type transport struct {
	c    *Client
	base http.RoundTripper
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	return t.c.RoundTrip(req, t.base.RoundTrip)
}

// RoundTrip records the exchange of req through next when it is a chat
// completions or Anthropic Messages call, and passes anything else through
// untouched. Adapters for client libraries' middleware hooks build on it.
func (c *Client) RoundTrip(req *http.Request, next func(*http.Request) (*http.Response, error)) (*http.Response, error) {
	api := apiOf(req)
	if api == apiNone {
		return next(req)
	}
	ex := &exchange{api: api}
	if meta, ok := req.Context().Value(ctxKey{}).(*Request); ok {
		ex.meta = meta
	}
	if req.Body != nil && req.Body != http.NoBody {
		if req.GetBody != nil {
			if rc, err := req.GetBody(); err == nil {
				ex.req, _ = io.ReadAll(io.LimitReader(rc, maxCapture))
				rc.Close()
			}
		} else {
			b, err := io.ReadAll(req.Body)
			req.Body.Close()
			if err != nil {
				return nil, err
			}
			ex.req = b
			req.Body = io.NopCloser(bytes.NewReader(b))
			req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
		}
	}
	start := time.Now()
	resp, err := next(req)
	if err != nil {
		ex.transportErr = err.Error()
		c.enqueue(&Call{Start: start, Duration: time.Since(start)}, ex)
		return resp, err
	}
	ex.status = resp.StatusCode
	ex.stream = strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream")
	resp.Body = &recordingBody{rc: resp.Body, c: c, ex: ex, start: start}
	return resp, nil
}

// recordingBody passes the response through unchanged, keeping a bounded
// copy; the call is queued when the application reaches EOF or closes the
// body, whichever comes first.
type recordingBody struct {
	rc    io.ReadCloser
	c     *Client
	ex    *exchange
	start time.Time
	first time.Time
	once  sync.Once
}

// Markers of streamed text: OpenAI deltas carry "content", Anthropic's
// text_delta events "text".
var (
	contentMarker = []byte(`"content":"`)
	textMarker    = []byte(`"text":"`)
)

func (b *recordingBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if n > 0 {
		if b.ex.stream && b.first.IsZero() && hasNonEmptyContent(p[:n], b.ex.api) {
			b.first = time.Now()
		}
		if room := maxCapture - len(b.ex.resp); room > 0 {
			if n <= room {
				b.ex.resp = append(b.ex.resp, p[:n]...)
			} else {
				b.ex.resp = append(b.ex.resp, p[:room]...)
				b.ex.overflow = true
			}
		} else {
			b.ex.overflow = true
		}
	}
	if err == io.EOF {
		b.finish(true)
	}
	return n, err
}

func (b *recordingBody) Close() error {
	err := b.rc.Close()
	b.finish(false)
	return err
}

func (b *recordingBody) finish(eof bool) {
	b.once.Do(func() {
		b.ex.complete = eof
		call := Call{Start: b.start, Duration: time.Since(b.start)}
		if !b.first.IsZero() {
			call.TTFT = b.first.Sub(b.start)
		}
		b.c.enqueue(&call, b.ex)
	})
}

func hasNonEmptyContent(p []byte, api int) bool {
	marker := contentMarker
	if api == apiAnthropic {
		marker = textMarker
	}
	for {
		i := bytes.Index(p, marker)
		if i < 0 {
			return false
		}
		p = p[i+len(marker):]
		if len(p) > 0 && p[0] != '"' {
			return true
		}
	}
}

// The APIs the transport records.
const (
	apiNone = iota
	apiOpenAI
	apiAnthropic
)

// apiOf says which API req calls. Anthropic's path is matched with its
// version prefix: OpenAI's assistants API also has POST .../messages
// (/v1/threads/{id}/messages), which is not an LLM call.
func apiOf(req *http.Request) int {
	if req.Method != http.MethodPost {
		return apiNone
	}
	path := strings.TrimSuffix(req.URL.Path, "/")
	switch {
	case strings.HasSuffix(path, "/chat/completions"):
		return apiOpenAI
	case strings.HasSuffix(path, "/v1/messages") && !strings.Contains(path, "/threads/"):
		return apiAnthropic
	}
	return apiNone
}

// exchange is one captured HTTP exchange, parsed on the client's goroutine.
type exchange struct {
	api          int
	meta         *Request
	req          []byte
	resp         []byte
	status       int
	stream       bool
	overflow     bool
	complete     bool
	transportErr string
}

type oaMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

type oaRequest struct {
	Model    string      `json:"model"`
	Messages []oaMessage `json:"messages"`
	User     string      `json:"user"`
}

type oaUsage struct {
	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
}

type oaChoice struct {
	Index        int        `json:"index"`
	Message      *oaMessage `json:"message"`
	Delta        *oaMessage `json:"delta"`
	FinishReason *string    `json:"finish_reason"`
}

type oaResponse struct {
	ID      string     `json:"id"`
	Model   string     `json:"model"`
	Choices []oaChoice `json:"choices"`
	Usage   *oaUsage   `json:"usage"`
	Error   *struct {
		Message string `json:"message"`
		Type    string `json:"type"`
		Code    any    `json:"code"`
	} `json:"error"`
}

// content flattens a message content that is a string or an array of parts.
func content(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &parts) == nil {
		var sb strings.Builder
		for _, p := range parts {
			if p.Text != "" {
				if sb.Len() > 0 {
					sb.WriteByte('\n')
				}
				sb.WriteString(p.Text)
			}
		}
		return sb.String()
	}
	return ""
}

// parse fills call from the exchange.
func (ex *exchange) parse(call *Call) {
	if ex.api == apiAnthropic {
		ex.parseAnthropic(call)
		ex.finishParse(call)
		return
	}
	call.Provider = "openai"
	call.Operation = "chat"
	var rq oaRequest
	if json.Unmarshal(ex.req, &rq) == nil {
		call.RequestModel = rq.Model
		call.UserID = rq.User
		for _, m := range rq.Messages {
			call.Prompt = append(call.Prompt, Message{Role: m.Role, Content: content(m.Content)})
		}
	}
	switch {
	case ex.failed(call, func(b []byte) (string, string, bool) {
		var r oaResponse
		if json.Unmarshal(b, &r) != nil || r.Error == nil {
			return "", "", false
		}
		return r.Error.Type, r.Error.Message, true
	}):
	case ex.stream:
		ex.parseStream(call)
	default:
		var r oaResponse
		if err := json.Unmarshal(ex.resp, &r); err != nil {
			call.ErrorType = "unparsable_response"
			break
		}
		call.ResponseID, call.Model = r.ID, r.Model
		for _, ch := range r.Choices {
			if ch.Message == nil {
				continue
			}
			m := Message{Role: ch.Message.Role, Content: content(ch.Message.Content)}
			if ch.FinishReason != nil {
				m.FinishReason = *ch.FinishReason
			}
			call.Completion = append(call.Completion, m)
		}
		if r.Usage != nil {
			call.InputTokens, call.OutputTokens = r.Usage.PromptTokens, r.Usage.CompletionTokens
		}
	}
	ex.finishParse(call)
}

// failed fills call's error when the exchange failed: a transport error,
// or an HTTP error status with the API's error body as errBody reads it
// (type and message). It reports whether the call failed.
func (ex *exchange) failed(call *Call, errBody func([]byte) (typ, msg string, ok bool)) bool {
	switch {
	case ex.transportErr != "":
		call.ErrorType = "transport"
		call.ErrorMessage = ex.transportErr
	case ex.status >= 400:
		call.ErrorType = "http_" + strconv.Itoa(ex.status)
		if typ, msg, ok := errBody(ex.resp); ok {
			call.ErrorMessage = msg
			if typ != "" {
				call.ErrorType = typ
			}
		}
	default:
		return false
	}
	return true
}

// finishParse applies what every API's record shares.
func (ex *exchange) finishParse(call *Call) {
	if call.Model == "" {
		call.Model = call.RequestModel
	}
	if ex.overflow {
		if call.Attributes == nil {
			call.Attributes = map[string]string{}
		}
		call.Attributes["sightline.capture_overflow"] = "true"
	}
	if m := ex.meta; m != nil {
		applyMeta(call, m)
	}
}

// sseData yields the payload of each "data:" line of a server-sent event
// stream, trimmed; other lines ("event:", comments) are skipped, since the
// payloads carry what the parsers need.
func sseData(b []byte) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		for len(b) > 0 {
			var line []byte
			if i := bytes.IndexByte(b, '\n'); i >= 0 {
				line, b = b[:i], b[i+1:]
			} else {
				line, b = b, nil
			}
			line = bytes.TrimSpace(line)
			if !bytes.HasPrefix(line, []byte("data:")) {
				continue
			}
			if !yield(bytes.TrimSpace(line[len("data:"):])) {
				return
			}
		}
	}
}

func (ex *exchange) parseStream(call *Call) {
	type acc struct {
		role, finish string
		sb           strings.Builder
	}
	var choices []*acc
	for data := range sseData(ex.resp) {
		if bytes.Equal(data, []byte("[DONE]")) {
			break
		}
		var ch oaResponse
		if json.Unmarshal(data, &ch) != nil {
			continue
		}
		if ch.ID != "" {
			call.ResponseID = ch.ID
		}
		if ch.Model != "" {
			call.Model = ch.Model
		}
		if ch.Usage != nil {
			call.InputTokens, call.OutputTokens = ch.Usage.PromptTokens, ch.Usage.CompletionTokens
		}
		for _, c := range ch.Choices {
			if c.Index < 0 || c.Index > 127 {
				continue
			}
			for len(choices) <= c.Index {
				choices = append(choices, &acc{})
			}
			a := choices[c.Index]
			if c.Delta != nil {
				if c.Delta.Role != "" {
					a.role = c.Delta.Role
				}
				a.sb.WriteString(content(c.Delta.Content))
			}
			if c.FinishReason != nil {
				a.finish = *c.FinishReason
			}
		}
	}
	for _, a := range choices {
		role := a.role
		if role == "" {
			role = "assistant"
		}
		call.Completion = append(call.Completion, Message{Role: role, Content: a.sb.String(), FinishReason: a.finish})
	}
	if !ex.complete && ex.status < 400 {
		if call.Attributes == nil {
			call.Attributes = map[string]string{}
		}
		call.Attributes["sightline.stream_incomplete"] = "true"
	}
}

func applyMeta(call *Call, m *Request) {
	if m.Provider != "" {
		call.Provider = m.Provider
	}
	if m.Operation != "" {
		call.Operation = m.Operation
	}
	if len(m.Prompt) > 0 {
		call.Prompt = m.Prompt
	}
	if len(m.Context) > 0 {
		call.Context = m.Context
	}
	if m.Reference != "" {
		call.Reference = m.Reference
	}
	if m.Variant != "" {
		call.Variant = m.Variant
	}
	if m.ConversationID != "" {
		call.ConversationID = m.ConversationID
	}
	if m.UserID != "" {
		call.UserID = m.UserID
	}
	if m.TraceID != "" {
		call.TraceID = m.TraceID
	}
	if m.SpanID != "" {
		call.SpanID = m.SpanID
	}
	if m.TemplateID != "" {
		call.PromptTemplateID = m.TemplateID
	}
	if m.TemplateVer != "" {
		call.PromptTemplateVersion = m.TemplateVer
	}
	if len(m.Segments) > 0 {
		call.Segments = m.Segments
	}
	if len(m.Attributes) > 0 {
		if call.Attributes == nil {
			call.Attributes = make(map[string]string, len(m.Attributes))
		}
		for k, v := range m.Attributes {
			call.Attributes[k] = v
		}
	}
}
