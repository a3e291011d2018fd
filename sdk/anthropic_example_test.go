package sdk_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/sightline-dev/sightline/internal/testenv"
	"github.com/sightline-dev/sightline/sdk"
	"github.com/sightline-dev/sightline/sdk/sdktest"
)

// Anthropic's Go SDK takes the transport as its HTTP client. The example
// runs against a fake Anthropic server and the in-process broker, then
// reads back the event Sightline recorded.
func ExampleClient_Transport_anthropic() {
	t := &testing.T{}
	b := testenv.Broker(t, "")
	fake := sdktest.FakeAnthropic(t)
	// An example has no test to clean up after it: stop them here.
	defer b.Close()
	defer fake.Close()

	client, err := sdk.NewClient(sdk.App("example"), sdk.Brokers(b.Addrs()...))
	if err != nil {
		panic(err)
	}
	ac := anthropic.NewClient(
		option.WithBaseURL(fake.URL),
		option.WithAPIKey("test-key"),
		option.WithHTTPClient(&http.Client{Transport: client.Transport(nil)}),
	)
	msg, err := ac.Messages.New(context.Background(), anthropic.MessageNewParams{
		Model: "claude-example", MaxTokens: 256,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hello there"))},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("app got:", msg.Content[0].Text)
	client.Close(context.Background())

	ev := sdktest.ReadEvents(t, b.Addrs(), "sightline.events", 1, 10*time.Second)[0]
	fmt.Println("recorded:", ev.GetProvider(), ev.GetModel(), ev.GetPrompt()[0].GetContent(), "->",
		ev.GetCompletion()[0].GetContent(), ev.GetCompletion()[0].GetFinishReason(), ev.GetInputTokens(), ev.GetOutputTokens())
	// Output:
	// app got: echo: hello there
	// recorded: anthropic claude-example-20250101 hello there -> echo: hello there end_turn 7 3
}
