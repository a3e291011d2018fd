package sdk

import "testing"

// FuzzParseExchange: the transport parses whatever an OpenAI-compatible or
// Anthropic server sends back (plain JSON or SSE) on the client's
// goroutine; no bytes may panic it.
func FuzzParseExchange(f *testing.F) {
	req := []byte(`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}]}`)
	f.Add(req, []byte(`{"id":"x","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"yo"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":2}}`), false, 200)
	f.Add(req, []byte("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\ndata: {\"choices\":[{\"index\":3,\"delta\":{\"content\":\"b\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n"), true, 200)
	f.Add([]byte("{"), []byte(`{"error":{"message":"nope","type":"rate_limit"}}`), false, 429)
	f.Add([]byte(nil), []byte("data: {\"choices\":[{\"index\":-1}]}\ndata: {\"choices\":[{\"index\":99999}]}"), true, 200)
	// Anthropic Messages.
	anReq := []byte(`{"model":"c","system":[{"type":"text","text":"s"}],"messages":[{"role":"user","content":"hi"}]}`)
	f.Add(anReq, []byte(`{"id":"m","model":"c","role":"assistant","content":[{"type":"text","text":"yo"},{"type":"tool_use","name":"f","input":{"a":1}}],"stop_reason":"end_turn","usage":{"input_tokens":1,"output_tokens":2}}`), false, 201)
	f.Add(anReq, []byte("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"usage\":{\"input_tokens\":3}}}\n\ndata: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"text_delta\",\"text\":\"a\"}}\n\ndata: {\"type\":\"content_block_delta\",\"index\":999,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\"}}\n\ndata: {\"type\":\"message_stop\"}\n"), true, 201)
	f.Add([]byte("{"), []byte(`{"type":"error","error":{"type":"overloaded_error","message":"busy"}}`), false, 529)
	f.Fuzz(func(t *testing.T, reqBody, respBody []byte, stream bool, status int) {
		for _, api := range []int{apiOpenAI, apiAnthropic} {
			ex := &exchange{api: api, req: reqBody, resp: respBody, stream: stream, status: status, complete: len(respBody)%2 == 0}
			var c Call
			ex.parse(&c)
			for _, m := range c.Completion {
				_ = m.Content
			}
		}
	})
}
