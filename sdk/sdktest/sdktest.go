// Package sdktest has helpers for testing code instrumented with the SDK:
// fake OpenAI-compatible chat completions and Anthropic Messages servers
// and a consumer that reads back the events produced to an in-process
// broker.
package sdktest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sightline-dev/sightline/schemas"
	"github.com/sightline-dev/sightline/schemas/eventpb"
)

// FakeOpenAI serves POST /v1/chat/completions: the answer is "echo: " and
// the last user message, streamed word by word when the request asks for a
// stream (with a usage chunk when stream_options.include_usage is set).
func FakeOpenAI(tb testing.TB) *httptest.Server {
	tb.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/chat/completions" {
			http.Error(w, `{"error":{"message":"not found","type":"invalid_request_error"}}`, 404)
			return
		}
		var req struct {
			Model    string `json:"model"`
			Stream   bool   `json:"stream"`
			Messages []struct {
				Role    string          `json:"role"`
				Content json.RawMessage `json:"content"`
			} `json:"messages"`
			StreamOptions *struct {
				IncludeUsage bool `json:"include_usage"`
			} `json:"stream_options"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, `{"error":{"message":"bad json","type":"invalid_request_error"}}`, 400)
			return
		}
		if req.Model == "fail" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(429)
			fmt.Fprint(w, `{"error":{"message":"Rate limit reached","type":"rate_limit_error"}}`)
			return
		}
		last := ""
		for _, m := range req.Messages {
			if m.Role == "user" {
				last = flatten(m.Content)
			}
		}
		answer := "echo: " + last
		inTok, outTok := len(strings.Fields(last))+3, len(strings.Fields(answer))
		if !req.Stream {
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]any{
				"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": req.Model + "-2024",
				"choices": []any{map[string]any{"index": 0, "finish_reason": "stop",
					"message": map[string]any{"role": "assistant", "content": answer}}},
				"usage": map[string]any{"prompt_tokens": inTok, "completion_tokens": outTok, "total_tokens": inTok + outTok},
			})
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		fl, _ := w.(http.Flusher)
		send := func(v any) {
			b, _ := json.Marshal(v)
			fmt.Fprintf(w, "data: %s\n\n", b)
			if fl != nil {
				fl.Flush()
			}
		}
		chunk := func(delta map[string]any, finish any) map[string]any {
			return map[string]any{"id": "chatcmpl-2", "object": "chat.completion.chunk", "created": 1, "model": req.Model + "-2024",
				"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish}}}
		}
		send(chunk(map[string]any{"role": "assistant", "content": ""}, nil))
		time.Sleep(20 * time.Millisecond) // time to first token
		for i, w := range strings.Fields(answer) {
			if i > 0 {
				w = " " + w
			}
			send(chunk(map[string]any{"content": w}, nil))
		}
		send(chunk(map[string]any{}, "stop"))
		if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
			send(map[string]any{"id": "chatcmpl-2", "object": "chat.completion.chunk", "created": 1, "model": req.Model + "-2024",
				"choices": []any{}, "usage": map[string]any{"prompt_tokens": inTok, "completion_tokens": outTok, "total_tokens": inTok + outTok}})
		}
		fmt.Fprint(w, "data: [DONE]\n\n")
	}))
	tb.Cleanup(srv.Close)
	return srv
}

// FakeAnthropic serves POST /v1/messages like the Anthropic Messages API:
// the answer is "echo: " and the last user message's text, streamed word by
// word as server-sent events when the request asks for a stream. Model
// "fail" answers 429 with an Anthropic error body.
func FakeAnthropic(tb testing.TB) *httptest.Server {
	tb.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/messages" {
			http.Error(w, `{"type":"error","error":{"type":"not_found_error","message":"not found"}}`, 404)
			return
		}
		var req struct {
			Model    string `json:"model"`
			Stream   bool   `json:"stream"`
			Messages []struct {
				Role    string          `json:"role"`
				Content json.RawMessage `json:"content"`
			} `json:"messages"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, `{"type":"error","error":{"type":"invalid_request_error","message":"bad json"}}`, 400)
			return
		}
		if req.Model == "fail" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(429)
			fmt.Fprint(w, `{"type":"error","error":{"type":"rate_limit_error","message":"Number of requests has exceeded your rate limit"}}`)
			return
		}
		last := ""
		for _, m := range req.Messages {
			if m.Role == "user" {
				last = flatten(m.Content)
			}
		}
		answer := "echo: " + last
		inTok, outTok := len(strings.Fields(last))+3, len(strings.Fields(answer))
		usage := map[string]any{"input_tokens": inTok, "output_tokens": outTok, "cache_read_input_tokens": 2}
		msg := map[string]any{"id": "msg_01", "type": "message", "role": "assistant", "model": req.Model + "-20250101",
			"content": []any{map[string]any{"type": "text", "text": answer}}, "stop_reason": "end_turn", "stop_sequence": nil, "usage": usage}
		if !req.Stream {
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(msg)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		fl, _ := w.(http.Flusher)
		send := func(typ string, v map[string]any) {
			v["type"] = typ
			b, _ := json.Marshal(v)
			fmt.Fprintf(w, "event: %s\ndata: %s\n\n", typ, b)
			if fl != nil {
				fl.Flush()
			}
		}
		start := map[string]any{}
		for k, v := range msg {
			start[k] = v
		}
		start["content"], start["stop_reason"] = []any{}, nil
		start["usage"] = map[string]any{"input_tokens": inTok, "output_tokens": 1, "cache_read_input_tokens": 2}
		send("message_start", map[string]any{"message": start})
		send("content_block_start", map[string]any{"index": 0, "content_block": map[string]any{"type": "text", "text": ""}})
		send("ping", map[string]any{})
		time.Sleep(20 * time.Millisecond) // time to first token
		for i, word := range strings.Fields(answer) {
			if i > 0 {
				word = " " + word
			}
			send("content_block_delta", map[string]any{"index": 0, "delta": map[string]any{"type": "text_delta", "text": word}})
		}
		send("content_block_stop", map[string]any{"index": 0})
		send("message_delta", map[string]any{"delta": map[string]any{"stop_reason": "end_turn", "stop_sequence": nil},
			"usage": map[string]any{"output_tokens": outTok}})
		send("message_stop", map[string]any{})
	}))
	tb.Cleanup(srv.Close)
	return srv
}

// ReadEvents consumes n events from topic on brokers (from the start) and
// decodes them, failing the test on a decode error or timeout.
func ReadEvents(tb testing.TB, brokers []string, topic string, n int, timeout time.Duration) []*eventpb.Event {
	tb.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		tb.Fatalf("cannot create consumer: %v", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out []*eventpb.Event
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			tb.Fatalf("read %d of %d events before the timeout", len(out), n)
		}
		var derr error
		fs.EachRecord(func(r *kgo.Record) {
			ev, err := schemas.Decode(r.Value)
			if err != nil && derr == nil {
				derr = err
			}
			out = append(out, ev)
		})
		if derr != nil {
			tb.Fatalf("produced event does not decode: %v", derr)
		}
	}
	return out
}

// flatten reads a message content given as a string or as text parts.
func flatten(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var parts []struct {
		Text string `json:"text"`
	}
	_ = json.Unmarshal(raw, &parts)
	var out []string
	for _, p := range parts {
		out = append(out, p.Text)
	}
	return strings.Join(out, " ")
}
