package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sightline-dev/sightline/internal/redact"
)

// Signature headers (see the package doc).
const (
	HeaderTimestamp = "X-Sightline-Timestamp"
	HeaderSignature = "X-Sightline-Signature"
	// HeaderIdempotencyKey carries the job request's idempotency key.
	HeaderIdempotencyKey = "Idempotency-Key"
)

// httpClient is shared by the HTTP actions; per-attempt deadlines come
// from the context.
var httpClient = &http.Client{Transport: &http.Transport{
	Proxy:               http.ProxyFromEnvironment,
	MaxIdleConnsPerHost: 4,
	IdleConnTimeout:     90 * time.Second,
	TLSHandshakeTimeout: 10 * time.Second,
}}

// Sign returns the signature header value for body at ts.
func Sign(secret []byte, ts int64, body []byte) string {
	return "v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts int64, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(strconv.FormatInt(ts, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Signature verification errors.
var (
	ErrNoSignature      = errors.New("request is not signed")
	ErrStaleTimestamp   = errors.New("signature timestamp is outside the tolerance")
	ErrSignatureInvalid = errors.New("signature does not match")
)

// VerifySignature checks the X-Sightline-Timestamp and
// X-Sightline-Signature headers of a request against body, the raw request
// body: the timestamp must be within tolerance of the local clock (0
// skips that check, which allows replays) and one of the "v1=" signatures
// must equal HMAC-SHA256(secret, "<timestamp>.<body>").
func VerifySignature(secret []byte, header http.Header, body []byte, tolerance time.Duration) error {
	tsText, sigs := header.Get(HeaderTimestamp), header.Get(HeaderSignature)
	if tsText == "" || sigs == "" {
		return ErrNoSignature
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return fmt.Errorf("bad %s header: %w", HeaderTimestamp, err)
	}
	if tolerance > 0 {
		if d := time.Since(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
			return ErrStaleTimestamp
		}
	}
	want := mac(secret, ts, body)
	for _, s := range strings.Split(sigs, ",") {
		v, ok := strings.CutPrefix(strings.TrimSpace(s), "v1=")
		if !ok {
			continue
		}
		got, err := hex.DecodeString(v)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return ErrSignatureInvalid
}

// request is one HTTP attempt of an action.
type request struct {
	method, url, contentType string
	body                     []byte
	headers                  map[string]string
	secret                   []byte
	extra                    http.Header
	// secrets are more values to mask, which the URL alone does not tell
	// (the token of a Slack webhook behind another host).
	secrets []string
}

// Bounds of what a failed attempt quotes of the receiver's answer.
const (
	// bodySlack is read past MaxBody so that a secret the receiver echoes
	// across the limit is still whole when it is masked (then cut).
	bodySlack = 1024
	// quoteMax bounds the part of the answer an error quotes.
	quoteMax = 256
)

// masker masks what an attempt must never let into an error or an outcome:
// the credentials of its URL, the signing secret and the values of
// sensitive headers (Authorization, X-Api-Key, ...), in whatever form the
// receiver echoes them.
func (r request) masker() *redact.Secrets {
	values := redact.URLSecrets(r.url)
	values = append(values, string(r.secret))
	values = append(values, r.secrets...)
	for k, v := range r.headers {
		if redact.SensitiveHeader(k) {
			values = append(values, v)
		}
	}
	return redact.NewSecrets(values...)
}

// do sends one attempt. 2xx is success; 408, 429 and 5xx are retryable
// errors; other statuses are permanent. Errors and the outcome's body are
// redacted (package internal/redact) before they leave: Go's *url.Error
// prints the full URL, and receivers echo URLs and headers in their answers.
func (r request) do(ctx context.Context) (Outcome, error) {
	sec := r.masker()
	req, err := http.NewRequestWithContext(ctx, r.method, r.url, bytes.NewReader(r.body))
	if err != nil {
		return Outcome{}, Permanent(sec.Error(fmt.Errorf("cannot build request: %w", err)))
	}
	ct := r.contentType
	if ct == "" {
		ct = "application/json"
	}
	req.Header.Set("Content-Type", ct)
	req.Header.Set("User-Agent", "sightline-alerts/1")
	for k, v := range r.headers {
		req.Header.Set(k, v)
	}
	for k, vs := range r.extra {
		req.Header[k] = vs
	}
	if len(r.secret) > 0 {
		ts := time.Now().Unix()
		req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
		req.Header.Set(HeaderSignature, Sign(r.secret, ts, r.body))
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		// The *url.Error's text repeats the URL unredacted: keep its cause
		// (a timeout, a refused connection) and name the URL ourselves (the
		// redirect target when there was one).
		target := r.url
		var ue *url.Error
		if errors.As(err, &ue) {
			target, err = ue.URL, ue.Err
		}
		return Outcome{}, sec.Error(fmt.Errorf("cannot send %s %s: %w", r.method, redact.URL(target), err))
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, MaxBody+bodySlack))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // lets the connection be reused
	out := Outcome{StatusCode: resp.StatusCode, Body: cut(sec.String(string(b)), MaxBody)}
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return out, nil
	case resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return out, sec.Error(fmt.Errorf("%s %s: receiver answered %s%s", r.method, redact.URL(r.url), resp.Status, quoteBody(out.Body)))
	default:
		return out, Permanent(sec.Error(fmt.Errorf("%s %s: receiver rejected the request: %s%s", r.method, redact.URL(r.url), resp.Status, quoteBody(out.Body))))
	}
}

// cut shortens s to at most n bytes without splitting a UTF-8 sequence.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}

// quoteBody is the start of an (already redacted) answer body for an error
// message, on one line: what the receiver said is often the fix.
func quoteBody(body string) string {
	body = strings.Join(strings.Fields(body), " ")
	if body == "" {
		return ""
	}
	if len(body) > quoteMax {
		body = cut(body, quoteMax) + "..."
	}
	return ": " + body
}
