package sdk

import (
	"context"
	"time"
)

// Message is one prompt or completion message.
type Message struct {
	Role         string
	Content      string
	FinishReason string // completion messages only
}

// Call is everything recorded about one LLM call. The SDK reads the slices
// and maps after Record returns (on its own goroutine), so the caller must
// not modify them afterwards.
type Call struct {
	Start        time.Time
	Duration     time.Duration
	TTFT         time.Duration // time to first token; 0 when not streamed
	Provider     string        // e.g. "openai"
	Operation    string        // e.g. "chat"
	RequestModel string
	Model        string // the model that answered
	Prompt       []Message
	Completion   []Message
	InputTokens  int64
	OutputTokens int64
	CostUSD      float64
	ErrorType    string
	ErrorMessage string

	TraceID        string
	SpanID         string
	ConversationID string
	UserID         string
	ResponseID     string

	PromptTemplateID      string
	PromptTemplateVersion string
	Variant               string

	Context   []string // retrieved passages (RAG)
	Reference string   // expected answer, when known

	Segments   map[string]string // attributes bias analysis groups by
	Attributes map[string]string
	Embedding  []float32
}

// Request is what is known when a call starts.
type Request struct {
	Provider       string
	Operation      string
	Model          string
	Prompt         []Message
	Context        []string
	Reference      string
	Variant        string
	ConversationID string
	UserID         string
	TraceID        string
	SpanID         string
	Segments       map[string]string
	Attributes     map[string]string
	TemplateID     string
	TemplateVer    string
}

// Response is what is known when a call ends.
type Response struct {
	Model        string
	Completion   []Message
	InputTokens  int64
	OutputTokens int64
	CostUSD      float64
	ResponseID   string
	// Err, if non-nil, marks the call failed; its type name and message are
	// recorded (the message is cut to the content limit).
	Err error
	// ErrorType overrides the recorded error type (e.g. "rate_limit").
	ErrorType string
}

// Hook records one call: Start it before calling the model and Finish it
// after. It is a value; keep it in a local variable.
type Hook struct {
	c     *Client
	call  Call
	first time.Time
}

// Start begins recording a call.
func (c *Client) Start(req Request) Hook {
	op := req.Operation
	if op == "" {
		op = "chat"
	}
	return Hook{c: c, call: Call{
		Start:                 time.Now(),
		Provider:              req.Provider,
		Operation:             op,
		RequestModel:          req.Model,
		Prompt:                req.Prompt,
		Context:               req.Context,
		Reference:             req.Reference,
		Variant:               req.Variant,
		ConversationID:        req.ConversationID,
		UserID:                req.UserID,
		TraceID:               req.TraceID,
		SpanID:                req.SpanID,
		Segments:              req.Segments,
		Attributes:            req.Attributes,
		PromptTemplateID:      req.TemplateID,
		PromptTemplateVersion: req.TemplateVer,
	}}
}

// FirstToken marks the arrival of the first streamed token (once).
func (h *Hook) FirstToken() {
	if h.first.IsZero() {
		h.first = time.Now()
	}
}

// Finish completes the call and records it without blocking. It reports
// whether the call was queued (false: dropped because the queue was full
// or the client closed).
func (h *Hook) Finish(resp Response) bool {
	h.fill(resp)
	return h.c.Record(&h.call)
}

// FinishWait is Finish that waits for room in the queue (for tools such as
// loadgen; applications should use Finish).
func (h *Hook) FinishWait(ctx context.Context, resp Response) error {
	h.fill(resp)
	return h.c.RecordWait(ctx, &h.call)
}

func (h *Hook) fill(resp Response) {
	c := &h.call
	c.Duration = time.Since(c.Start)
	if !h.first.IsZero() {
		c.TTFT = h.first.Sub(c.Start)
	}
	c.Model = resp.Model
	if c.Model == "" {
		c.Model = c.RequestModel
	}
	c.Completion = resp.Completion
	c.InputTokens = resp.InputTokens
	c.OutputTokens = resp.OutputTokens
	c.CostUSD = resp.CostUSD
	c.ResponseID = resp.ResponseID
	if resp.Err != nil {
		c.ErrorType = resp.ErrorType
		if c.ErrorType == "" {
			c.ErrorType = errorTypeName(resp.Err)
		}
		c.ErrorMessage = resp.Err.Error()
	} else if resp.ErrorType != "" {
		c.ErrorType = resp.ErrorType
	}
}
