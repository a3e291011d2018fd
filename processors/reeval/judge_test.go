package reeval

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func testJudge(f *fakeJudge) *judge {
	cfg := Config{JudgeURL: f.URL + "/v1", JudgeModel: "judge-7b", APIKey: "k-123",
		Timeout: 150 * time.Millisecond, Retries: 2, Backoff: 5 * time.Millisecond}
	cfg.applyDefaults()
	return newJudge(&cfg)
}

func TestJudgeOutcomes(t *testing.T) {
	f := newFakeJudge(t, time.Second)
	j := testJudge(f)
	ctx := context.Background()
	tests := []struct {
		response     string
		context      bool
		valid        bool
		failed       bool
		attempts     int
		errSubstring string
	}{
		{"fine answer", true, true, false, 1, ""},
		{"rude #toxic", false, true, false, 1, ""},
		{"fenced #fenced #toxic", true, true, false, 1, ""},
		{"broken #malformed", true, false, false, 1, "malformed JSON"},
		{"types #wrongtype", true, false, false, 1, "toxicity.toxic: want a boolean"},
		{"html #badbody", true, false, true, 1, "not a chat completion"},
		{"limited #429once", true, true, false, 2, ""},
		{"gpu #500twice", true, true, false, 3, ""},
		{"once #slowonce", true, true, false, 2, ""},
		{"never #slow", true, false, true, 3, "no answer within 150ms"},
	}
	for _, tt := range tests {
		t.Run(tt.response, func(t *testing.T) {
			x := &Exchange{PromptContents: []string{"q"}, Completion: []string{tt.response}}
			if tt.context {
				x.Context = []string{"a passage"}
			}
			res, err := j.Judge(ctx, x)
			if err != nil {
				t.Fatal(err)
			}
			v := res.Verdict
			if v.Valid != tt.valid || res.Failed != tt.failed || res.Attempts != tt.attempts || !strings.Contains(v.Error, tt.errSubstring) {
				t.Fatalf("got valid=%v failed=%v attempts=%d error %q; want %v %v %d %q",
					v.Valid, res.Failed, res.Attempts, v.Error, tt.valid, tt.failed, tt.attempts, tt.errSubstring)
			}
			if v.Valid && v.Toxic != strings.Contains(tt.response, "#toxic") {
				t.Fatalf("toxic %v for %q", v.Toxic, tt.response)
			}
			if v.Valid && (v.Hallucinated != nil) != tt.context {
				t.Fatalf("hallucination verdict %v with context %v", v.Hallucinated, tt.context)
			}
		})
	}
	f.mu.Lock()
	req, auth := f.lastReq, f.lastAuth
	f.mu.Unlock()
	if auth != "Bearer k-123" || req.Model != "judge-7b" || req.ResponseFormat.Type != "json_object" ||
		req.Messages[0].Role != "system" || req.Messages[0].Content != SystemPrompt || req.Temperature != 0 {
		t.Fatalf("request: auth %q model %q format %q first role %q", auth, req.Model, req.ResponseFormat.Type, req.Messages[0].Role)
	}
}

func TestJudgeRejectedStops(t *testing.T) {
	f := newFakeJudge(t, time.Second)
	f.status = 401
	_, err := testJudge(f).Judge(context.Background(), &Exchange{Completion: []string{"x"}})
	if !errors.Is(err, ErrJudgeRejected) || !strings.Contains(err.Error(), "401") {
		t.Fatalf("want ErrJudgeRejected naming 401, got %v", err)
	}
	if calls, _ := f.stats(); calls != 1 {
		t.Fatalf("a rejected request must not be retried: %d calls", calls)
	}
}

func TestJudgeBadRequestIsNotRetried(t *testing.T) {
	f := newFakeJudge(t, time.Second)
	f.status = 400
	res, err := testJudge(f).Judge(context.Background(), &Exchange{Completion: []string{"x"}})
	if err != nil || !res.Failed || res.Attempts != 1 || !strings.Contains(res.Verdict.Error, "judge answered 400") {
		t.Fatalf("got %+v, %v", res, err)
	}
}

func TestJudgeStopsWithContext(t *testing.T) {
	f := newFakeJudge(t, 5*time.Second)
	j := testJudge(f)
	j.cfg.Timeout = 10 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := j.Judge(ctx, &Exchange{Completion: []string{"#slow"}})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Fatalf("want the context's error promptly, got %v after %s", err, time.Since(start))
	}
}

func TestLimiterSpacesRequests(t *testing.T) {
	l := newLimiter(50) // 20ms apart
	start := time.Now()
	for range 6 {
		if err := l.wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d < 95*time.Millisecond {
		t.Fatalf("6 requests at 50/s took %s, want >= 100ms (first is free)", d)
	}
}

func TestBackoffBounds(t *testing.T) {
	cfg := Config{Backoff: 100 * time.Millisecond, MaxBackoff: time.Second}
	j := &judge{cfg: &cfg}
	for n := 1; n <= 10; n++ {
		ceil := min(cfg.Backoff<<(n-1), cfg.MaxBackoff)
		if d := j.backoff(n, 0); d < ceil/2 || d > ceil {
			t.Fatalf("retry %d: %s outside [%s, %s]", n, d, ceil/2, ceil)
		}
	}
	if d := j.backoff(1, 3*time.Second); d != time.Second {
		t.Fatalf("Retry-After must be capped at MaxBackoff, got %s", d)
	}
}

func TestValidate(t *testing.T) {
	base := func() Config {
		c := Config{JudgeURL: "http://gpu:8000/v1", JudgeModel: "m", From: time.Unix(0, 0), To: time.Unix(3600, 0)}
		c.applyDefaults()
		return c
	}
	if c := base(); c.Validate() != nil {
		t.Fatalf("base config: %v", c.Validate())
	}
	for name, tc := range map[string]struct {
		mod  func(*Config)
		want string
	}{
		"no url":        {func(c *Config) { c.JudgeURL = "" }, "--judge-url is required"},
		"bad url":       {func(c *Config) { c.JudgeURL = "gpu:8000" }, "not an http(s) URL"},
		"no model":      {func(c *Config) { c.JudgeModel = "" }, "--judge-model"},
		"no range":      {func(c *Config) { c.From, c.To = time.Time{}, time.Time{} }, "--alert-id"},
		"reversed":      {func(c *Config) { c.From, c.To = c.To, c.From }, "--to must be after --from"},
		"alert + range": {func(c *Config) { c.AlertID = "a1" }, "do not combine"},
		"concurrency":   {func(c *Config) { c.Concurrency = -2 }, "--concurrency"},
		"rate":          {func(c *Config) { c.Rate = -1 }, "--rate"},
	} {
		c := base()
		tc.mod(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: want error with %q, got %v", name, tc.want, err)
		}
	}
	if got := (&Config{JudgeURL: "http://h/v1/chat/completions/"}).endpoint(); got != "http://h/v1/chat/completions" {
		t.Errorf("endpoint %q", got)
	}
	if got := (&Config{JudgeURL: "https://h/openai/deployments/d/?api-version=2024-06-01"}).endpoint(); got != "https://h/openai/deployments/d/chat/completions?api-version=2024-06-01" {
		t.Errorf("endpoint with a query %q", got)
	}
}

func TestDefaultJobIDIsDeterministic(t *testing.T) {
	c := Config{Scope: Scope{Tenant: "t", App: "a"}, From: time.Unix(100, 0), To: time.Unix(200, 0), JudgeModel: "m"}
	id := DefaultJobID(c)
	if id != DefaultJobID(c) || !strings.HasPrefix(id, "reeval-") {
		t.Fatalf("id %q", id)
	}
	for _, mod := range []func(*Config){
		func(c *Config) { c.Scope.App = "b" }, func(c *Config) { c.To = time.Unix(201, 0) }, func(c *Config) { c.JudgeModel = "n" },
	} {
		d := c
		mod(&d)
		if DefaultJobID(d) == id {
			t.Fatalf("a different job got the same id %q", id)
		}
	}
	if a := DefaultJobID(Config{AlertID: "x", JudgeModel: "m"}); !strings.HasPrefix(a, "alert-") {
		t.Fatalf("alert job id %q", a)
	}
}
