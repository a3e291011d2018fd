package openaisdk_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/sightline-dev/sightline/internal/testenv"
	"github.com/sightline-dev/sightline/sdk"
	"github.com/sightline-dev/sightline/sdk/openaisdk"
	"github.com/sightline-dev/sightline/sdk/sdktest"
)

// The example runs against a fake OpenAI-compatible server and the
// in-process broker, then reads back the event Sightline recorded.
func Example() {
	t := &testing.T{}
	b := testenv.Broker(t, "")
	fake := sdktest.FakeOpenAI(t)
	// An example has no test to clean up after it: stop them here.
	defer b.Close()
	defer fake.Close()

	client, err := sdk.NewClient(sdk.App("example"), sdk.Brokers(b.Addrs()...))
	if err != nil {
		panic(err)
	}
	oa := openai.NewClient(
		option.WithBaseURL(fake.URL+"/v1"),
		option.WithAPIKey("test-key"),
		option.WithMiddleware(openaisdk.Middleware(client)),
	)
	ctx := openaisdk.WithRequest(context.Background(), sdk.Request{Variant: "v2"})
	resp, err := oa.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model:    "gpt-4o-mini",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello there")},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("app got:", resp.Choices[0].Message.Content)
	client.Close(context.Background())

	ev := sdktest.ReadEvents(t, b.Addrs(), "sightline.events", 1, 10*time.Second)[0]
	fmt.Println("recorded:", ev.GetModel(), ev.GetVariant(), ev.GetPrompt()[0].GetContent(), "->", ev.GetCompletion()[0].GetContent(), ev.GetInputTokens(), ev.GetOutputTokens())
	// Output:
	// app got: echo: hello there
	// recorded: gpt-4o-mini-2024 v2 hello there -> echo: hello there 5 3
}

func TestStreaming(t *testing.T) {
	b := testenv.Broker(t, "")
	fake := sdktest.FakeOpenAI(t)
	client, err := sdk.NewClient(sdk.App("example"), sdk.Brokers(b.Addrs()...))
	testenv.Must(t, err, "new client")
	oa := openai.NewClient(option.WithBaseURL(fake.URL+"/v1"), option.WithAPIKey("k"), option.WithMiddleware(openaisdk.Middleware(client)))
	stream := oa.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
		Model:         "gpt-4o",
		Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("stream me please")},
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	})
	acc := openai.ChatCompletionAccumulator{}
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	testenv.Must(t, stream.Err(), "stream")
	if got := acc.Choices[0].Message.Content; got != "echo: stream me please" {
		t.Fatalf("application received %q", got)
	}
	testenv.Must(t, client.Close(context.Background()), "close")
	ev := sdktest.ReadEvents(t, b.Addrs(), "sightline.events", 1, 10*time.Second)[0]
	if ev.GetCompletion()[0].GetContent() != "echo: stream me please" || ev.GetOutputTokens() != 4 || ev.GetInputTokens() != 6 {
		t.Fatalf("recorded completion %q tokens %d/%d", ev.GetCompletion()[0].GetContent(), ev.GetInputTokens(), ev.GetOutputTokens())
	}
	if ev.TtftMs == nil || ev.GetTtftMs() < 15 || ev.GetTtftMs() > ev.GetDurationMs() {
		t.Fatalf("ttft %v of duration %v", ev.TtftMs, ev.GetDurationMs())
	}
}
