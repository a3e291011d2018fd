package sdk_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sightline-dev/sightline/internal/testenv"
	"github.com/sightline-dev/sightline/schemas/eventpb"
	"github.com/sightline-dev/sightline/sdk"
	"github.com/sightline-dev/sightline/sdk/sdktest"
)

func newClient(t *testing.T, brokers []string, opts ...sdk.Opt) *sdk.Client {
	t.Helper()
	c, err := sdk.NewClient(append([]sdk.Opt{sdk.App("test-app"), sdk.Brokers(brokers...), sdk.Tenant("acme")}, opts...)...)
	testenv.Must(t, err, "new client")
	return c
}

func TestHookRecordsEverything(t *testing.T) {
	b := testenv.Broker(t, "")
	c := newClient(t, b.Addrs(), sdk.Environment("prod"))
	h := c.Start(sdk.Request{
		Provider: "openai", Model: "gpt-4o",
		Prompt:    []sdk.Message{{Role: "system", Content: "be brief"}, {Role: "user", Content: "capital of France?"}},
		Context:   []string{"Paris is the capital of France."},
		Reference: "Paris", Variant: "v2", ConversationID: "c1", UserID: "u1",
		Segments:   map[string]string{"user.locale": "fr-FR"},
		Attributes: map[string]string{"feature": "faq"},
		TemplateID: "faq", TemplateVer: "3",
	})
	h.FirstToken()
	time.Sleep(2 * time.Millisecond)
	if !h.Finish(sdk.Response{Model: "gpt-4o-2024-08-06", Completion: []sdk.Message{{Role: "assistant", Content: "Paris.", FinishReason: "stop"}},
		InputTokens: 12, OutputTokens: 2, CostUSD: 0.0001, ResponseID: "r1"}) {
		t.Fatal("call was not queued")
	}
	h2 := c.Start(sdk.Request{Model: "gpt-4o"})
	h2.Finish(sdk.Response{Err: errors.New("upstream timeout"), ErrorType: "timeout"})
	testenv.Must(t, c.Close(context.Background()), "close")
	if st := c.Stats(); st.Sent != 2 || st.Dropped != 0 || st.Failed != 0 {
		t.Fatalf("stats %+v", st)
	}
	evs := sdktest.ReadEvents(t, b.Addrs(), "sightline.events", 2, 10*time.Second)
	var ok, failed *eventpb.Event
	for _, e := range evs {
		if e.GetError() != nil {
			failed = e
		} else {
			ok = e
		}
	}
	if ok == nil || failed == nil {
		t.Fatal("want one successful and one failed call")
	}
	if ok.GetTenant() != "acme" || ok.GetApp() != "test-app" || ok.GetEnvironment() != "prod" ||
		ok.GetModel() != "gpt-4o-2024-08-06" || ok.GetRequestModel() != "gpt-4o" || ok.GetVariant() != "v2" ||
		ok.GetReference() != "Paris" || len(ok.GetContext()) != 1 || ok.GetSegments()["user.locale"] != "fr-FR" ||
		ok.GetAttributes()["feature"] != "faq" || ok.GetPromptTemplate().GetVersion() != "3" ||
		ok.GetInputTokens() != 12 || ok.GetOutputTokens() != 2 || len(ok.GetPrompt()) != 2 ||
		ok.GetCompletion()[0].GetFinishReason() != "stop" || ok.GetSdk().GetName() != "sightline-go" {
		t.Fatalf("recorded event is missing fields: %v", ok)
	}
	if ok.GetDurationMs() < 2 || ok.TtftMs == nil {
		t.Fatalf("duration %v ttft %v", ok.GetDurationMs(), ok.TtftMs)
	}
	if failed.GetError().GetType() != "timeout" || failed.GetError().GetMessage() != "upstream timeout" {
		t.Fatalf("error not recorded: %v", failed.GetError())
	}
}

// The application's goroutine must never block: with a broker that does not
// exist and a tiny queue, Record keeps returning at once and counts drops.
func TestOverflowDropsAndNeverBlocks(t *testing.T) {
	c := newClient(t, []string{"127.0.0.1:1"}, sdk.QueueSize(8), sdk.DeliveryTimeout(time.Second))
	call := sdk.Call{Model: "m", Prompt: []sdk.Message{{Role: "user", Content: "x"}}}
	done := make(chan struct{})
	go func() {
		for i := 0; i < 100000; i++ {
			c.Record(&call)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Record blocked")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = c.Close(ctx)
	st := c.Stats()
	if st.Dropped == 0 || st.Queued+st.Dropped != 100000 {
		t.Fatalf("want drops counted, got %+v", st)
	}
	if c.Record(&call) {
		t.Fatal("Record after Close must report the drop")
	}
	if err := c.RecordWait(context.Background(), &call); !errors.Is(err, sdk.ErrClosed) {
		t.Fatalf("RecordWait after Close: %v", err)
	}
}

func TestOptionsAreValidated(t *testing.T) {
	for name, opts := range map[string][]sdk.Opt{
		"App":        {},
		"QueueSize":  {sdk.App("a"), sdk.QueueSize(0)},
		"SampleRate": {sdk.App("a"), sdk.SampleRate(0)},
		"Brokers":    {sdk.App("a"), sdk.Brokers()},
	} {
		_, err := sdk.NewClient(opts...)
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: got %v, want an error naming it", name, err)
		}
	}
}

func TestRedactionBeforeLeavingTheProcess(t *testing.T) {
	b := testenv.Broker(t, "")
	c := newClient(t, b.Addrs(), sdk.WithRedactor(sdk.SimplePII()))
	h := c.Start(sdk.Request{Model: "m", Prompt: []sdk.Message{{Role: "user",
		Content: "mail jane.doe@example.com, card 4111 1111 1111 1111, call +1 415-555-0134, order 1234567890123"}}})
	h.Finish(sdk.Response{Completion: []sdk.Message{{Role: "assistant", Content: "ok"}}})
	testenv.Must(t, c.Close(context.Background()), "close")
	ev := sdktest.ReadEvents(t, b.Addrs(), "sightline.events", 1, 10*time.Second)[0]
	got := ev.GetPrompt()[0].GetContent()
	for _, leak := range []string{"jane.doe", "4111", "555-0134"} {
		if strings.Contains(got, leak) {
			t.Fatalf("%q leaked: %s", leak, got)
		}
	}
	if !strings.Contains(got, "[REDACTED:email]") || !strings.Contains(got, "[REDACTED:card]") || !strings.Contains(got, "order 1234567890123") {
		t.Fatalf("unexpected redaction: %s", got)
	}
}

func TestContentIsTruncatedNotDropped(t *testing.T) {
	b := testenv.Broker(t, "")
	c := newClient(t, b.Addrs(), sdk.MaxContentBytes(1024))
	h := c.Start(sdk.Request{Model: "m", Prompt: []sdk.Message{{Role: "user", Content: strings.Repeat("a", 5<<20)}}})
	h.Finish(sdk.Response{InputTokens: 7})
	testenv.Must(t, c.Close(context.Background()), "close")
	ev := sdktest.ReadEvents(t, b.Addrs(), "sightline.events", 1, 10*time.Second)[0]
	if !ev.GetTruncated() || len(ev.GetPrompt()[0].GetContent()) != 1024 || ev.GetInputTokens() != 7 {
		t.Fatalf("truncated=%v len=%d tokens=%d", ev.GetTruncated(), len(ev.GetPrompt()[0].GetContent()), ev.GetInputTokens())
	}
}

func TestTransportPassesBytesThroughAndRecords(t *testing.T) {
	b := testenv.Broker(t, "")
	fake := sdktest.FakeOpenAI(t)
	c := newClient(t, b.Addrs())
	plain := &http.Client{}
	instrumented := &http.Client{Transport: c.Transport(nil)}
	for _, body := range []string{
		`{"model":"gpt-4o","messages":[{"role":"user","content":"plain call"}]}`,
		`{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":[{"type":"text","text":"streamed call"}]}]}`,
		`{"model":"fail","messages":[{"role":"user","content":"x"}]}`,
	} {
		want := post(t, plain, fake.URL+"/v1/chat/completions", body)
		got := post(t, instrumented, fake.URL+"/v1/chat/completions", body)
		if !bytes.Equal(want, got) {
			t.Fatalf("the application received different bytes:\nwant %s\ngot  %s", want, got)
		}
	}
	// Not a chat completion: passed through, not recorded.
	resp, err := instrumented.Get(fake.URL + "/v1/models")
	testenv.Must(t, err, "get")
	resp.Body.Close()
	testenv.Must(t, c.Close(context.Background()), "close")
	if st := c.Stats(); st.Queued != 3 || st.Sent != 3 {
		t.Fatalf("stats %+v", st)
	}
	evs := sdktest.ReadEvents(t, b.Addrs(), "sightline.events", 3, 10*time.Second)
	byPrompt := map[string]*eventpb.Event{}
	for _, e := range evs {
		if len(e.GetPrompt()) == 0 {
			t.Fatalf("event without prompt: %v", e)
		}
		byPrompt[e.GetPrompt()[0].GetContent()] = e
	}
	p := byPrompt["plain call"]
	if p == nil || p.GetCompletion()[0].GetContent() != "echo: plain call" || p.GetInputTokens() != 5 || p.GetOutputTokens() != 3 ||
		p.GetModel() != "gpt-4o-2024" || p.GetResponseId() != "chatcmpl-1" || p.TtftMs != nil {
		t.Fatalf("plain call recorded as %v", p)
	}
	s := byPrompt["streamed call"]
	if s == nil || s.GetCompletion()[0].GetContent() != "echo: streamed call" || s.GetCompletion()[0].GetFinishReason() != "stop" ||
		s.GetOutputTokens() != 3 || s.TtftMs == nil || s.GetTtftMs() < 15 {
		t.Fatalf("streamed call recorded as %v", s)
	}
	f := byPrompt["x"]
	if f == nil || f.GetError().GetType() != "rate_limit_error" || f.GetError().GetMessage() != "Rate limit reached" {
		t.Fatalf("failed call recorded as %v", f)
	}
}

// A streaming response abandoned by the application is still recorded, with
// what arrived and a flag.
func TestTransportRecordsAbandonedStream(t *testing.T) {
	b := testenv.Broker(t, "")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: {\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"partial\"}}]}\n\n")
		w.(http.Flusher).Flush()
		time.Sleep(200 * time.Millisecond)
	}))
	defer srv.Close()
	c := newClient(t, b.Addrs())
	hc := &http.Client{Transport: c.Transport(nil)}
	resp, err := hc.Post(srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"m","stream":true,"messages":[{"role":"user","content":"q"}]}`))
	testenv.Must(t, err, "post")
	buf := make([]byte, 10)
	resp.Body.Read(buf)
	resp.Body.Close()
	testenv.Must(t, c.Close(context.Background()), "close")
	ev := sdktest.ReadEvents(t, b.Addrs(), "sightline.events", 1, 10*time.Second)[0]
	if ev.GetAttributes()["sightline.stream_incomplete"] != "true" {
		t.Fatalf("abandoned stream not flagged: %v", ev.GetAttributes())
	}
}

func post(t *testing.T, c *http.Client, url, body string) []byte {
	t.Helper()
	resp, err := c.Post(url, "application/json", strings.NewReader(body))
	testenv.Must(t, err, "post")
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	testenv.Must(t, err, "read")
	return b
}

func TestRedactPIIPerKind(t *testing.T) {
	b := testenv.Broker(t, "")
	r, err := sdk.RedactPII("email", "api_key", "credit_card")
	testenv.Must(t, err, "redactor")
	if _, err := sdk.RedactPII("emails"); err == nil {
		t.Fatal("unknown kind accepted")
	}
	c := newClient(t, b.Addrs(), sdk.WithRedactor(r))
	h := c.Start(sdk.Request{Model: "m", Prompt: []sdk.Message{{Role: "user",
		Content: "I am jane.doe@example.com, key sk-proj-abcdefghijklmnopqrstuvwx123456, card 4111-1111-1111-1111, server 10.1.2.3"}},
		Context: []string{"contact ops@example.org"}})
	h.Finish(sdk.Response{Completion: []sdk.Message{{Role: "assistant", Content: "Mail jane.doe@example.com"}}})
	testenv.Must(t, c.Close(context.Background()), "close")
	ev := sdktest.ReadEvents(t, b.Addrs(), "sightline.events", 1, 10*time.Second)[0]
	all := ev.GetPrompt()[0].GetContent() + ev.GetCompletion()[0].GetContent() + ev.GetContext()[0]
	for _, leak := range []string{"jane.doe", "sk-proj", "4111", "ops@"} {
		if strings.Contains(all, leak) {
			t.Fatalf("%q leaked: %s", leak, all)
		}
	}
	if !strings.Contains(all, "10.1.2.3") {
		t.Fatal("ipv4 was not configured for redaction but was redacted")
	}
}

// Every label the contract limits is cut rather than the event dropped,
// the prompt template's too (schemas.CutLabels).
func TestLongLabelsAreCut(t *testing.T) {
	b := testenv.Broker(t, "")
	c := newClient(t, b.Addrs())
	long := strings.Repeat("x", 300)
	h := c.Start(sdk.Request{Model: long, TemplateID: long, TemplateVer: long, Variant: long})
	h.Finish(sdk.Response{})
	testenv.Must(t, c.Close(context.Background()), "close")
	if st := c.Stats(); st.EncodeErrors != 0 {
		t.Fatalf("event dropped: %+v", st)
	}
	ev := sdktest.ReadEvents(t, b.Addrs(), "sightline.events", 1, 10*time.Second)[0]
	if !ev.GetTruncated() || len(ev.GetModel()) != 256 || len(ev.GetPromptTemplate().GetId()) != 256 ||
		len(ev.GetPromptTemplate().GetVersion()) != 256 || len(ev.GetVariant()) != 256 {
		t.Fatalf("labels not cut: %v", ev)
	}
}
