package reeval

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestJudgeErrorsRedacted: the judge's API key and the credentials of its
// URL never reach a verdict's error, its stored raw answer or the error
// that stops the job, whether the judge is unreachable, rejects the key
// echoing the request, or fails echoing it; the judge's host is still
// named.
func TestJudgeErrorsRedacted(t *testing.T) {
	const key, urlKey = "sk-Judg3ApiKeyS3cret", "AzureKey9S3cretQ"
	leaky := func(status int) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.WriteHeader(status)
			auth := r.Header.Get("Authorization")
			fmt.Fprintf(w, `{"error":"key %s refused for %s","auth":%q,"headers":%q}`,
				strings.TrimPrefix(auth, "Bearer "), r.URL.Query().Get("api-key"), auth, r.Header)
		}))
	}
	e500, e401 := leaky(500), leaky(401)
	defer e500.Close()
	defer e401.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String()
	ln.Close()

	for _, c := range []struct {
		name, base string
		rejected   bool
	}{{"refused", refused, false}, {"500", e500.URL, false}, {"401", e401.URL, true}} {
		cfg := Config{JudgeURL: c.base + "/v1?api-key=" + urlKey, JudgeModel: "m", APIKey: key,
			Timeout: time.Second, Retries: 1, Backoff: time.Millisecond}
		cfg.applyDefaults()
		res, err := newJudge(&cfg).Judge(context.Background(), &Exchange{Completion: []string{"x"}})
		texts := []string{res.Verdict.Error, res.Raw}
		if err != nil {
			texts = append(texts, err.Error())
		}
		if c.rejected != errors.Is(err, ErrJudgeRejected) || (!c.rejected && !res.Failed) {
			t.Errorf("%s: rejected %v, failed %v: %v", c.name, errors.Is(err, ErrJudgeRejected), res.Failed, err)
		}
		host := strings.TrimPrefix(c.base, "http://")
		for _, text := range texts {
			if strings.Contains(text, key) || strings.Contains(text, urlKey) {
				t.Errorf("%s: secret in %q", c.name, text)
			}
		}
		if !strings.Contains(strings.Join(texts, " "), host) {
			t.Errorf("%s: the judge's host %s is not named: %q", c.name, host, texts)
		}
	}
	if err := (Config{JudgeURL: "ftp://u:" + key + "@judge/v1", JudgeModel: "m", From: time.Unix(0, 0), To: time.Unix(1, 0)}).Validate(); err == nil ||
		strings.Contains(err.Error(), key) {
		t.Errorf("config error: %v", err)
	}
}
