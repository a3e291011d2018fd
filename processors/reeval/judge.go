package reeval

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sightline-dev/sightline/internal/redact"
	"github.com/sightline-dev/sightline/internal/retry"
)

// ErrJudgeRejected wraps answers that no retry and no other event can fix
// (401, 403, 404: wrong key, URL or model): the job stops instead of
// recording every event as failed.
var ErrJudgeRejected = errors.New("judge rejected the request")

// Judgement is the outcome of asking the judge about one event.
type Judgement struct {
	Verdict Verdict
	// Raw is the judge's message content (or the response body when it was
	// not a chat completion), for the record.
	Raw string
	// Failed is set when no answer was had after the retries (the verdict
	// is then invalid with the last error).
	Failed   bool
	Attempts int
	Latency  time.Duration // of the last attempt
}

// judge calls an OpenAI-compatible chat-completions endpoint.
type judge struct {
	cfg     *Config
	url     string
	limiter *limiter
	// sec masks the API key and the URL's credentials (an Azure-style
	// ?api-key=) in errors and failed answers, which are stored in
	// llm_evaluations and printed.
	sec *redact.Secrets
}

func newJudge(cfg *Config) *judge {
	url := cfg.endpoint()
	return &judge{cfg: cfg, url: url, limiter: newLimiter(cfg.Rate),
		sec: redact.NewSecrets(append(redact.URLSecrets(url), cfg.APIKey, "Bearer "+cfg.APIKey)...)}
}

type chatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type chatRequest struct {
	Model          string        `json:"model"`
	Messages       []chatMessage `json:"messages"`
	Temperature    float64       `json:"temperature"`
	MaxTokens      int           `json:"max_tokens,omitempty"`
	ResponseFormat struct {
		Type string `json:"type"`
	} `json:"response_format"`
}

type chatResponse struct {
	Choices []struct {
		Message struct {
			Content *string `json:"content"`
		} `json:"message"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
}

// attemptError is one failed attempt; retry says whether another may help.
type attemptError struct {
	err        error
	retry      bool
	retryAfter time.Duration
}

// Judge asks about one exchange, with retries. It returns an error only
// when ctx ends or the judge rejects the job as a whole (ErrJudgeRejected);
// every other failure is a Judgement with an invalid verdict.
func (j *judge) Judge(ctx context.Context, x *Exchange) (Judgement, error) {
	req := chatRequest{
		Model:       j.cfg.JudgeModel,
		Temperature: 0,
		MaxTokens:   j.cfg.MaxTokens,
		Messages: []chatMessage{
			{Role: "system", Content: SystemPrompt},
			{Role: "user", Content: UserMessage(x, j.cfg.MaxChars)},
		},
	}
	req.ResponseFormat.Type = "json_object"
	body, err := json.Marshal(req)
	if err != nil {
		return Judgement{}, fmt.Errorf("cannot encode judge request: %w", err)
	}
	var res Judgement
	var last *attemptError
	for attempt := 0; attempt <= j.cfg.Retries; attempt++ {
		if attempt > 0 {
			if err := sleep(ctx, j.backoff(attempt, last.retryAfter)); err != nil {
				return res, err
			}
		}
		if err := j.limiter.wait(ctx); err != nil {
			return res, err
		}
		res.Attempts = attempt + 1
		start := time.Now()
		content, raw, aerr := j.once(ctx, body)
		res.Latency = time.Since(start)
		if aerr != nil {
			aerr.err = j.sec.Error(aerr.err)
			raw = j.sec.String(raw[:min(len(raw), maxRaw+1024)]) // stored cut to maxRaw: redact first, so no cut secret remains
		}
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		if aerr == nil {
			res.Raw = content
			res.Verdict = ParseVerdict(content, x.checkable())
			return res, nil
		}
		if errors.Is(aerr.err, ErrJudgeRejected) {
			return res, aerr.err
		}
		res.Raw = raw
		last = aerr
		if !aerr.retry {
			break
		}
	}
	res.Failed = true
	res.Verdict = Verdict{Error: fmt.Sprintf("judge request failed after %d attempts: %v", res.Attempts, last.err)}
	return res, nil
}

// once sends one attempt. On success it returns the message content; on a
// non-chat-completion answer it returns the body in raw.
func (j *judge) once(ctx context.Context, body []byte) (content, raw string, _ *attemptError) {
	actx, cancel := context.WithTimeout(ctx, j.cfg.Timeout)
	defer cancel()
	hreq, err := http.NewRequestWithContext(actx, http.MethodPost, j.url, bytes.NewReader(body))
	if err != nil {
		return "", "", &attemptError{err: fmt.Errorf("cannot build judge request: %w", err)}
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Accept", "application/json")
	if j.cfg.APIKey != "" {
		hreq.Header.Set("Authorization", "Bearer "+j.cfg.APIKey)
	}
	resp, err := j.cfg.HTTPClient.Do(hreq)
	if err != nil {
		if actx.Err() == context.DeadlineExceeded && ctx.Err() == nil {
			return "", "", &attemptError{err: fmt.Errorf("no answer within %s", j.cfg.Timeout), retry: true}
		}
		// The *url.Error's text repeats the URL: keep its cause only.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return "", "", &attemptError{err: fmt.Errorf("cannot reach judge at %s: %w", redact.URL(j.url), err), retry: true}
	}
	defer resp.Body.Close()
	// Bounded read: a judge answer is a few KB.
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		if actx.Err() == context.DeadlineExceeded && ctx.Err() == nil {
			return "", "", &attemptError{err: fmt.Errorf("no complete answer within %s", j.cfg.Timeout), retry: true}
		}
		return "", "", &attemptError{err: fmt.Errorf("cannot read judge answer: %w", err), retry: true}
	}
	if resp.StatusCode != http.StatusOK {
		msg := fmt.Errorf("judge answered %d from %s: %s", resp.StatusCode, redact.URL(j.url), j.snippet(b))
		switch {
		case resp.StatusCode == 401 || resp.StatusCode == 403 || resp.StatusCode == 404:
			return "", string(b), &attemptError{err: fmt.Errorf("%w: %d from %s: %s (check --judge-url, --judge-model and SIGHTLINE_JUDGE_API_KEY)",
				ErrJudgeRejected, resp.StatusCode, redact.URL(j.url), j.snippet(b))}
		case resp.StatusCode == 408 || resp.StatusCode == 429 || resp.StatusCode >= 500:
			return "", string(b), &attemptError{err: msg, retry: true, retryAfter: retryAfter(resp.Header.Get("Retry-After"))}
		default:
			return "", string(b), &attemptError{err: msg}
		}
	}
	var cr chatResponse
	if err := json.Unmarshal(b, &cr); err != nil {
		return "", string(b), &attemptError{err: fmt.Errorf("judge answer is not a chat completion: %v", err)}
	}
	if len(cr.Choices) == 0 || cr.Choices[0].Message.Content == nil {
		return "", string(b), &attemptError{err: fmt.Errorf("judge answer has no message content")}
	}
	return *cr.Choices[0].Message.Content, "", nil
}

// snippet is the start of an answer for an error message, redacted
// before it is cut so that a cut cannot leave the prefix of a secret.
func (j *judge) snippet(b []byte) string {
	s := strings.TrimSpace(j.sec.String(strings.ToValidUTF8(string(b[:min(len(b), 4096)]), "")))
	if len(s) > 200 {
		s = strings.ToValidUTF8(s[:200], "") + "..."
	}
	return s
}

// retryAfter reads a Retry-After header in seconds (the HTTP-date form is
// not worth honouring here).
func retryAfter(h string) time.Duration {
	if n, err := strconv.Atoi(strings.TrimSpace(h)); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	return 0
}

// backoff is the delay before retry n (1-based): the project's
// exponential backoff with equal jitter (internal/retry), or the server's Retry-After,
// capped at MaxBackoff.
func (j *judge) backoff(n int, after time.Duration) time.Duration {
	d := after
	if d == 0 {
		d = retry.Backoff(j.cfg.Backoff, j.cfg.MaxBackoff, n)
	}
	return min(d, j.cfg.MaxBackoff)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// limiter spaces request starts 1/rate apart (no bursts: a judge on one GPU
// gains nothing from them).
type limiter struct {
	mu       sync.Mutex
	interval time.Duration
	next     time.Time
}

func newLimiter(rate float64) *limiter {
	if rate <= 0 {
		return &limiter{}
	}
	return &limiter{interval: time.Duration(float64(time.Second) / rate)}
}

func (l *limiter) wait(ctx context.Context) error {
	if l.interval == 0 {
		return ctx.Err()
	}
	l.mu.Lock()
	now := time.Now()
	at := l.next
	if at.Before(now) {
		at = now
	}
	l.next = at.Add(l.interval)
	l.mu.Unlock()
	return sleep(ctx, at.Sub(now))
}
