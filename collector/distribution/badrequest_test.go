package distribution

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestBadJSONIs400: a body that is not OTLP answers 400 from OTLP/HTTP,
// including those whose parse error the receiver cannot encode (not
// UTF-8, or a multi-byte character cut in the quoted context), which it
// answers 500 on its own.
func TestBadJSONIs400(t *testing.T) {
	b := startBroker(t)
	o := Options{Brokers: b.Addrs(), GRPCAddr: "127.0.0.1:" + strconv.Itoa(freePort(t)),
		HTTPAddr: "127.0.0.1:" + strconv.Itoa(freePort(t)), MetricsAddr: "127.0.0.1:" + strconv.Itoa(freePort(t))}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := Start(ctx, o)
	must(t, err, "start")
	defer r.Shutdown()
	spans, err := os.ReadFile(filepath.Join("..", "sightlineexporter", "testdata", "traces", "genai_current.json"))
	must(t, err, "read spans")

	for _, c := range []struct {
		name, path, contentType, body string
		code                          int
	}{
		{"spans", "/v1/traces", "application/json", string(spans), 200},
		{"empty request", "/v1/logs", "application/json", "{}", 200},
		{"not JSON", "/v1/traces", "application/json", "garbage", 400},
		{"not UTF-8", "/v1/traces", "application/json", "\xff\xfe", 400},
		{"not UTF-8, logs", "/v1/logs", "application/json", `{"resourceLogs":[{"x":` + "\xff}]}", 400},
		{"bad value among multi-byte characters", "/v1/traces", "application/json",
			`{"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":"` + strings.Repeat("é", 40) + `"}]}]}]}`, 400},
		{"syntax error among multi-byte characters", "/v1/logs", "application/json",
			`{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"é", "droppedEventsCount": ` + strings.Repeat("é", 10) + `}]}]}]}`, 400},
		{"not protobuf", "/v1/traces", "application/x-protobuf", "garbage", 400},
	} {
		resp, err := http.Post("http://"+o.HTTPAddr+c.path, c.contentType, strings.NewReader(c.body))
		must(t, err, "post")
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.code {
			t.Errorf("%s: %s %.200s, want %d", c.name, resp.Status, msg, c.code)
		}
	}
}

func TestFixFallback(t *testing.T) {
	for _, c := range []struct {
		name     string
		handler  http.HandlerFunc
		code     int
		bodyHas  string
		jsonType bool
	}{
		{"the receiver's fallback", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(500)
			w.Write(receiverFallback)
		}, 400, `"code":3`, true},
		{"another 500", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(500)
			w.Write([]byte(`{"code": 13, "message": "exporter failed"}`))
		}, 500, "exporter failed", false},
		{"a 500 without a body", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(500) }, 500, "", false},
		{"a 503", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(503)
			w.Write(receiverFallback)
		}, 503, "failed to marshal", false},
		{"a 200", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("{}")) }, 200, "{}", false},
	} {
		rec := httptest.NewRecorder()
		fixFallback(c.handler).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/traces", nil))
		if rec.Code != c.code || !strings.Contains(rec.Body.String(), c.bodyHas) ||
			(c.jsonType && rec.Header().Get("Content-Type") != "application/json") {
			t.Errorf("%s: %d %q, want %d with %q", c.name, rec.Code, rec.Body, c.code, c.bodyHas)
		}
	}
}
