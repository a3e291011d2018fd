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
	"strconv"
	"strings"
	"time"
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
}

// do sends one attempt. 2xx is success; 408, 429 and 5xx are retryable
// errors; other statuses are permanent.
func (r request) do(ctx context.Context) (Outcome, error) {
	req, err := http.NewRequestWithContext(ctx, r.method, r.url, bytes.NewReader(r.body))
	if err != nil {
		return Outcome{}, Permanent(fmt.Errorf("cannot build request: %w", err))
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
		return Outcome{}, fmt.Errorf("cannot send %s %s: %w", r.method, redact(r.url), err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, MaxBody))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // lets the connection be reused
	out := Outcome{StatusCode: resp.StatusCode, Body: string(b)}
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return out, nil
	case resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return out, fmt.Errorf("receiver answered %s", resp.Status)
	default:
		return out, Permanent(fmt.Errorf("receiver rejected the request: %s", resp.Status))
	}
}

// redact drops the query and user info of a URL for error messages
// (Slack and CI URLs carry tokens).
func redact(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	if i := strings.Index(u, "://"); i >= 0 {
		if j := strings.LastIndex(u[i+3:], "@"); j >= 0 {
			u = u[:i+3] + u[i+3+j+1:]
		}
	}
	return u
}
