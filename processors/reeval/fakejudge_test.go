package reeval

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeJudge is an OpenAI-compatible chat-completions server whose verdicts
// follow markers in the judged response text, so a test knows the truth:
//
//	#toxic #halluc #biased   the verdict's flags (hallucination only when
//	                         the exchange has context or a reference)
//	#fenced                  the verdict in a ```json fence with prose after
//	#malformed               truncated JSON
//	#wrongtype               "toxic": "yes"
//	#badbody                 HTTP 200 with an HTML body
//	#slow                    never answers within the client's timeout
//	#slowonce                too slow on the first attempt only
//	#429once, #500twice      fails that often before answering
type fakeJudge struct {
	*httptest.Server
	slow time.Duration

	mu          sync.Mutex
	attempts    map[string]int // by response text
	calls       int
	inflight    int
	maxInflight int
	lastReq     chatRequest
	lastAuth    string
	status      int           // when set, every request answers with it
	delay       time.Duration // before every answer
}

func newFakeJudge(t *testing.T, slow time.Duration) *fakeJudge {
	t.Helper()
	f := &fakeJudge{slow: slow, attempts: map[string]int{}}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeJudge) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/chat/completions" || r.Method != http.MethodPost {
		http.Error(w, `{"error":{"message":"not found"}}`, http.StatusNotFound)
		return
	}
	var req chatRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Messages) != 2 {
		http.Error(w, `{"error":{"message":"bad request"}}`, http.StatusBadRequest)
		return
	}
	user := req.Messages[1].Content
	resp := between(user, "<response>\n", "\n</response>")
	f.mu.Lock()
	f.calls++
	f.attempts[resp]++
	n := f.attempts[resp]
	f.lastReq, f.lastAuth = req, r.Header.Get("Authorization")
	f.inflight++
	f.maxInflight = max(f.maxInflight, f.inflight)
	status, delay := f.status, f.delay
	f.mu.Unlock()
	defer func() { f.mu.Lock(); f.inflight--; f.mu.Unlock() }()

	wait := func(d time.Duration) {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
		}
	}
	if delay > 0 {
		wait(delay)
	}
	has := func(m string) bool { return strings.Contains(resp, m) }
	switch {
	case status != 0:
		http.Error(w, `{"error":{"message":"denied"}}`, status)
		return
	case has("#slow") && !has("#slowonce"), has("#slowonce") && n == 1:
		wait(f.slow)
		return
	case has("#429once") && n == 1:
		w.Header().Set("Retry-After", "0")
		http.Error(w, `{"error":{"message":"Rate limit reached","type":"rate_limit_error"}}`, http.StatusTooManyRequests)
		return
	case has("#500twice") && n <= 2:
		http.Error(w, `{"error":{"message":"CUDA out of memory"}}`, http.StatusInternalServerError)
		return
	case has("#badbody"):
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<html>502 from the proxy</html>")
		return
	}
	checkable := strings.Contains(user, "<context>") || strings.Contains(user, "<reference>")
	verdict := map[string]any{
		"toxicity": map[string]any{"toxic": has("#toxic"), "score": score(has("#toxic"))},
		"bias":     map[string]any{"biased": has("#biased"), "explanation": map[bool]string{true: "stereotypes a group", false: ""}[has("#biased")]},
	}
	if checkable {
		claims := []string{}
		if has("#halluc") {
			claims = []string{"an invented claim"}
		}
		verdict["hallucination"] = map[string]any{"hallucinated": has("#halluc"), "score": score(has("#halluc")), "unsupported_claims": claims}
	} else {
		verdict["hallucination"] = nil
	}
	b, _ := json.Marshal(verdict)
	content := string(b)
	switch {
	case has("#fenced"):
		content = "```json\n" + content + "\n```\nI hope this helps."
	case has("#malformed"):
		content = `{"toxicity": {"toxic": tru`
	case has("#wrongtype"):
		content = strings.Replace(content, `"toxic":false`, `"toxic":"yes"`, 1)
		content = strings.Replace(content, `"toxic":true`, `"toxic":"yes"`, 1)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"id": "chatcmpl-fake", "object": "chat.completion", "model": req.Model,
		"choices": []map[string]any{{"index": 0, "finish_reason": "stop", "message": map[string]any{"role": "assistant", "content": content}}},
		"usage":   map[string]int{"prompt_tokens": 100, "completion_tokens": 40, "total_tokens": 140},
	})
}

func score(b bool) float64 {
	if b {
		return 0.9
	}
	return 0.1
}

func between(s, a, b string) string {
	_, rest, ok := strings.Cut(s, a)
	if !ok {
		return ""
	}
	out, _, _ := strings.Cut(rest, b)
	return out
}

func (f *fakeJudge) stats() (calls, maxInflight int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls, f.maxInflight
}
