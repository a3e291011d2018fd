package sdk

import "testing"

// FuzzParseExchange: the transport parses whatever an OpenAI-compatible
// server sends back (plain JSON or SSE) on the client's goroutine; no bytes
// may panic it.
func FuzzParseExchange(f *testing.F) {
	req := []byte(`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}]}`)
	f.Add(req, []byte(`{"id":"x","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"yo"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":2}}`), false, 200)
	f.Add(req, []byte("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\ndata: {\"choices\":[{\"index\":3,\"delta\":{\"content\":\"b\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n"), true, 200)
	f.Add([]byte("{"), []byte(`{"error":{"message":"nope","type":"rate_limit"}}`), false, 429)
	f.Add([]byte(nil), []byte("data: {\"choices\":[{\"index\":-1}]}\ndata: {\"choices\":[{\"index\":99999}]}"), true, 200)
	f.Fuzz(func(t *testing.T, reqBody, respBody []byte, stream bool, status int) {
		ex := &exchange{req: reqBody, resp: respBody, stream: stream, status: status, complete: len(respBody)%2 == 0}
		var c Call
		ex.parse(&c)
		for _, m := range c.Completion {
			_ = m.Content
		}
	})
}
