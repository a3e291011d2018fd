package sdk_test

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/sightline-dev/sightline/internal/testenv"
	"github.com/sightline-dev/sightline/schemas/eventpb"
	"github.com/sightline-dev/sightline/sdk/sdktest"
)

// TestTransportAnthropic: Anthropic's Go SDK with the transport as its
// HTTP client records plain, streamed and failed Messages calls, and the
// application gets the same bytes as without it.
func TestTransportAnthropic(t *testing.T) {
	b := testenv.Broker(t, "")
	fake := sdktest.FakeAnthropic(t)
	c := newClient(t, b.Addrs())
	ac := anthropic.NewClient(option.WithAPIKey("test-key"), option.WithBaseURL(fake.URL), option.WithMaxRetries(0),
		option.WithHTTPClient(&http.Client{Transport: c.Transport(nil)}))
	ctx := context.Background()
	params := func(model, text string) anthropic.MessageNewParams {
		return anthropic.MessageNewParams{
			Model: model, MaxTokens: 256,
			System:   []anthropic.TextBlockParam{{Text: "Be brief."}},
			Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(text))},
		}
	}

	msg, err := ac.Messages.New(ctx, params("claude-test", "plain call"))
	testenv.Must(t, err, "messages.new")
	if len(msg.Content) != 1 || msg.Content[0].Text != "echo: plain call" {
		t.Fatalf("the application got %+v", msg.Content)
	}
	stream := ac.Messages.NewStreaming(ctx, params("claude-test", "streamed call"))
	var acc anthropic.Message
	for stream.Next() {
		testenv.Must(t, acc.Accumulate(stream.Current()), "accumulate")
	}
	testenv.Must(t, stream.Err(), "stream")
	if len(acc.Content) != 1 || acc.Content[0].Text != "echo: streamed call" {
		t.Fatalf("the application got the stream as %+v", acc.Content)
	}
	if _, err := ac.Messages.New(ctx, params("fail", "x")); err == nil {
		t.Fatal("the failing call did not fail")
	}

	// Same bytes with and without the transport.
	body := `{"model":"claude-test","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"bytes"}]}`
	want := post(t, &http.Client{}, fake.URL+"/v1/messages", body)
	got := post(t, &http.Client{Transport: c.Transport(nil)}, fake.URL+"/v1/messages", body)
	if !bytes.Equal(want, got) {
		t.Fatalf("the application received different bytes:\nwant %s\ngot  %s", want, got)
	}
	// OpenAI's assistants API also posts .../messages: not an LLM call.
	resp, err := (&http.Client{Transport: c.Transport(nil)}).Post(fake.URL+"/v1/threads/t1/messages", "application/json", bytes.NewReader([]byte(`{}`)))
	testenv.Must(t, err, "post thread message")
	resp.Body.Close()

	testenv.Must(t, c.Close(ctx), "close")
	if st := c.Stats(); st.Queued != 4 {
		t.Fatalf("recorded %d calls, want 4: %+v", st.Queued, st)
	}
	byPrompt := map[string]*eventpb.Event{}
	for _, e := range sdktest.ReadEvents(t, b.Addrs(), "sightline.events", 4, 10*time.Second) {
		byPrompt[e.GetPrompt()[len(e.GetPrompt())-1].GetContent()] = e
	}
	p := byPrompt["plain call"]
	if p == nil || p.GetProvider() != "anthropic" || p.GetPrompt()[0].GetRole() != "system" || p.GetPrompt()[0].GetContent() != "Be brief." ||
		p.GetCompletion()[0].GetContent() != "echo: plain call" || p.GetCompletion()[0].GetFinishReason() != "end_turn" ||
		p.GetInputTokens() != 7 || p.GetOutputTokens() != 3 || p.GetModel() != "claude-test-20250101" ||
		p.GetRequestModel() != "claude-test" || p.GetResponseId() != "msg_01" || p.TtftMs != nil {
		t.Fatalf("plain call recorded as %v", p)
	}
	s := byPrompt["streamed call"]
	if s == nil || s.GetCompletion()[0].GetContent() != "echo: streamed call" || s.GetCompletion()[0].GetFinishReason() != "end_turn" ||
		s.GetInputTokens() != 7 || s.GetOutputTokens() != 3 || s.TtftMs == nil || s.GetTtftMs() < 15 ||
		s.GetAttributes()["sightline.stream_incomplete"] != "" {
		t.Fatalf("streamed call recorded as %v", s)
	}
	f := byPrompt["x"]
	if f == nil || f.GetError().GetType() != "rate_limit_error" || f.GetError().GetMessage() == "" {
		t.Fatalf("failed call recorded as %v", f)
	}
}
