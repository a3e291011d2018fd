package server

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sightline-dev/sightline/internal/auth"
	"github.com/sightline-dev/sightline/internal/broker"
	"github.com/sightline-dev/sightline/internal/testenv"
)

// FuzzIngest: with the broker up, any body (with its length or chunked)
// is answered 200, 400 or 413 with a JSON answer that accounts for no more
// events than it had, never a panic or a 5xx, and leaves no bytes or
// request slots held.
func FuzzIngest(f *testing.F) {
	ev := `{"schema_version":1,"event_id":"0190c8e4-5a2b-7c3d-8e4f-0123456789ab","app":"a","model":"m","ts":"2026-11-27T10:00:00Z"}`
	for _, s := range []string{ev, "[" + ev + "," + ev + "]", ev + "\n" + ev + "\n", "", " ", "[]", "[", "[" + ev, "[" + ev + ",",
		"[" + ev + "]]", "{", "null", "[null,1,\"x\",[]]", "\xff\xfe", `[{"app":"a"}]`, strings.Repeat("[", 10000),
		"[" + strings.Repeat(ev+",", 20) + ev + "]", ev + "\r\n\r\n" + ev, `{"schema_version":1}` + ev} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	b := testenv.Broker(f, "")
	prod, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...))
	if err != nil {
		f.Fatal(err)
	}
	defer prod.Close()
	cfg := IngestConfig{MaxBodyBytes: 16 << 10, MaxEventsPerRequest: 16, MaxInflightBytes: 16 << 10}.withDefaults()
	in, err := newIngester(cfg, prod, broker.TopicEvents, prometheus.NewRegistry())
	if err != nil {
		f.Fatal(err)
	}
	// An ingest key of tenant acme that refuses other tenants' events:
	// a body of only those is a 403.
	in.mismatch = auth.Refuse
	who := auth.Principal{KeyID: "fuzz", Tenant: "acme", Role: auth.RoleIngest}
	f.Fuzz(func(t *testing.T, body []byte, chunked bool) {
		r := httptest.NewRequest(http.MethodPost, "/v1/events", bytes.NewReader(body))
		r = r.WithContext(auth.NewContext(r.Context(), who))
		if chunked {
			r.Body, r.ContentLength = io.NopCloser(io.MultiReader(bytes.NewReader(body))), -1
		}
		w := httptest.NewRecorder()
		in.ServeHTTP(w, r)
		if c := w.Code; c != http.StatusOK && c != http.StatusBadRequest && c != http.StatusRequestEntityTooLarge && c != http.StatusForbidden {
			t.Fatalf("answered %d: %s", c, w.Body)
		}
		var res ingestResult
		if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil {
			t.Fatalf("answer is not JSON: %v: %q", err, w.Body)
		}
		if res.Accepted < 0 || res.Accepted+len(res.Rejected) > cfg.MaxEventsPerRequest || (w.Code == http.StatusOK) != (res.Error == "") {
			t.Fatalf("answer %d %+v", w.Code, res)
		}
		if n := in.budget.inUse(); n != 0 || in.bodyBytes.Load() != 0 || in.brokerBytes.Load() != 0 || len(in.slots) != 0 {
			t.Fatalf("held after the answer: %d bytes (body %d, broker %d), %d requests", n, in.bodyBytes.Load(), in.brokerBytes.Load(), len(in.slots))
		}
	})
}
