package console_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sightline-dev/sightline/internal/console"
	"github.com/sightline-dev/sightline/internal/testenv"
	"github.com/sightline-dev/sightline/processors/detectors"
	"github.com/sightline-dev/sightline/processors/detectors/registry"
	"github.com/sightline-dev/sightline/processors/eventfeatures"
	"github.com/sightline-dev/sightline/processors/window"
	"github.com/sightline-dev/sightline/schemas/eventpb"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

const secretCompletion = "You are a stupid idiot, and the card 4111 is mine."

// smallData stores a few calls (one toxic, with evidence) and a few
// windows of signals, and returns the toxic call's id.
func smallData(t *testing.T, conn driver.Conn) string {
	t.Helper()
	ctx := context.Background()
	t0 := time.Now().Add(-10 * time.Minute).Truncate(time.Minute)
	var rows []chsink.EventRow
	for i := 0; i < 30; i++ {
		ev := &eventpb.Event{SchemaVersion: 1, EventId: fmt.Sprintf("0190c8e4-5a2b-7c3d-8e4f-%012d", i), Tenant: "t", App: "a", Model: "m",
			Variant: "control", Ts: timestamppb.New(t0.Add(time.Duration(i) * 10 * time.Second)), DurationMs: 100, ConversationId: "conv-1",
			Prompt: []*eventpb.Message{{Role: "user", Content: "Tell me about my order"}}, TraceId: "4bf92f3577b34da6a3ce929d0e0e4736",
			Completion: []*eventpb.Message{{Role: "assistant", Content: "It ships tomorrow."}}}
		r := chsink.EventRow{Event: ev, Offset: int64(i)}
		if i == 7 {
			ev.Completion[0].Content = secretCompletion
			schema, err := registry.Schema(nil)
			if err != nil {
				t.Fatal(err)
			}
			r.Scores = detectors.NewScores(schema)
			r.Scores.Set("completion_toxicity", 0.97)
			r.Scores.SetList("toxicity_evidence", []string{"stupid", "idiot"})
			r.Scores.SetList("pii_kinds", []string{"credit_card"})
		}
		r.Features = eventfeatures.Compute(ev)
		rows = append(rows, r)
	}
	testenv.Must(t, chsink.InsertEvents(ctx, conn, rows), "insert events")
	key := window.Key{Tenant: "t", App: "a", Model: "m", Variant: "control"}
	var sig []chsink.SignalRow
	for i := 0; i < 5; i++ {
		ws := t0.Add(time.Duration(i) * time.Minute).Unix()
		sig = append(sig,
			chsink.SignalRow{Key: key, WindowStart: ws, WindowSeconds: 60, Signal: window.Signal{Name: "events", Metric: "count", Value: 6, N: 6}},
			chsink.SignalRow{Key: key, WindowStart: ws, WindowSeconds: 60, Signal: window.Signal{Name: "toxicity", Metric: "rate", Value: 0.1, N: 6, Lo: 0.01, Hi: 0.4}},
			chsink.SignalRow{Key: key, WindowStart: ws, WindowSeconds: 60, Signal: window.Signal{Name: "latency_ms", Metric: "p50", Value: 100, N: 6}})
	}
	testenv.Must(t, chsink.InsertSignals(ctx, conn, sig), "insert signals")
	return rows[7].Event.EventId
}

func newConsole(t *testing.T, conn driver.Conn, listen string, reg prometheus.Registerer) http.Handler {
	t.Helper()
	c, err := console.New(console.Options{Conn: conn, Config: console.DefaultConfig(), ListenAddr: listen, Registerer: reg})
	testenv.Must(t, err, "console")
	return c
}

func fetch(t *testing.T, h http.Handler, target string) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	resp := rec.Result()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// Every page answers on a small system, with no-store and the content
// security policy; lists never carry a completion, the detail does, with
// its toxic terms marked.
func TestPagesAndContent(t *testing.T) {
	conn, _ := testenv.Database(t)
	id := smallData(t, conn)
	h := newConsole(t, conn, "127.0.0.1:8088", nil)
	for _, p := range []string{"/", "/calls", "/calls?tenant=t&sort=toxicity", "/signals", "/signals/drift", "/signals/drift/distribution",
		"/signals/bias", "/signals/ab", "/alerts", "/jobs", "/live", "/assets/console.css", "/assets/console.js", "/assets/favicon.svg"} {
		resp, body := fetch(t, h, p)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %s\n%s", p, resp.Status, body)
		}
		if !strings.HasPrefix(p, "/assets/") && (resp.Header.Get("Cache-Control") != "no-store" ||
			!strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'")) {
			t.Fatalf("%s: headers %v", p, resp.Header)
		}
		if strings.Contains(body, "stupid idiot") || strings.Contains(body, "It ships tomorrow") {
			t.Fatalf("%s shows call content", p)
		}
	}
	_, list := fetch(t, h, "/calls?tenant=t")
	if !strings.Contains(list, "/calls/"+id+"?app=a&amp;tenant=t") {
		t.Fatalf("the calls list does not link the toxic call")
	}
	resp, detail := fetch(t, h, "/calls/"+id+"?tenant=t&app=a")
	if resp.StatusCode != http.StatusOK || !strings.Contains(detail, `<mark class="tox">stupid</mark>`) ||
		!strings.Contains(detail, `<mark class="tox">idiot</mark>`) || !strings.Contains(detail, "credit_card") {
		t.Fatalf("detail %s:\n%s", resp.Status, detail)
	}
	if resp, _ := fetch(t, h, "/calls/no-such-call"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("a missing call: %s", resp.Status)
	}
}

// Beyond loopback, without authentication, the detail page refuses the
// content and says why; scores and labels stay.
func TestContentRefusedBeyondLoopback(t *testing.T) {
	conn, _ := testenv.Database(t)
	id := smallData(t, conn)
	h := newConsole(t, conn, "0.0.0.0:8088", nil)
	resp, body := fetch(t, h, "/calls/"+id+"?tenant=t&app=a")
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "no authentication") || !strings.Contains(body, "0.97") {
		t.Fatalf("%s\n%s", resp.Status, body)
	}
	for _, leak := range []string{"stupid", "idiot", "Tell me about my order", "4111"} {
		if strings.Contains(body, leak) {
			t.Fatalf("content %q served beyond loopback", leak)
		}
	}
	if resp, _ := fetch(t, h, "/calls?tenant=t"); resp.StatusCode != http.StatusOK {
		t.Fatalf("lists hold no content and stay served: %s", resp.Status)
	}
}

// Bad input is a message on the page (400), never a 500, on every page.
func TestBadInputNeverFails(t *testing.T) {
	conn, _ := testenv.Database(t)
	smallData(t, conn)
	h := newConsole(t, conn, "127.0.0.1:8088", nil)
	bad := []string{"range=forever", "from=now", "to=1999-01-01T00:00:00Z", "from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z",
		"window=-1", "window=10x", "tenant=%ff", "app=" + strings.Repeat("a", 300), "nope=1", "app=a&app=b", "at=x", "feature=x",
		"before=x", "toxicity=-1", "sort=x", "order=x", "after=x", "limit=1000", "pii=%27", "segment=x", "tenant=%00"}
	for _, page := range []string{"/", "/calls", "/signals", "/signals/drift", "/signals/drift/distribution", "/signals/bias", "/signals/ab", "/alerts", "/jobs"} {
		for _, q := range bad {
			resp, body := fetch(t, h, page+"?"+q)
			if resp.StatusCode >= 500 {
				t.Fatalf("%s?%s: %s\n%s", page, q, resp.Status, body)
			}
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `class="error"`) {
				t.Fatalf("%s?%s: %s without a message", page, q, resp.Status)
			}
		}
	}
	// Values that are valid but odd run as bound arguments.
	for _, q := range []string{"app=%27%3B%20DROP%20TABLE%20llm_events%3B%20--", "tenant=%E2%80%AE", "variant=template:%27", "segment=%27%3D%27"} {
		resp, body := fetch(t, h, "/calls?"+q)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "No call matches") {
			t.Fatalf("/calls?%s: %s", q, resp.Status)
		}
	}
	if resp, _ := fetch(t, h, "/calls/bad%20id"); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad call id: %s", resp.Status)
	}
	if resp, _ := fetch(t, h, "/nowhere"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown path: %s", resp.Status)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/calls", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("POST: %d", rec.Code)
	}
}

// Open tabs refreshing the same view share its reads: 40 requests at once
// for one page cost one ClickHouse read per query the page makes.
func TestOpenTabsShareReads(t *testing.T) {
	conn, _ := testenv.Database(t)
	smallData(t, conn)
	reg := prometheus.NewRegistry()
	h := newConsole(t, conn, "127.0.0.1:8088", reg)
	srv := httptest.NewServer(h)
	defer srv.Close()
	var wg sync.WaitGroup
	for i := 0; i < 40; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			resp, err := http.Get(srv.URL + "/signals?tenant=t")
			if err == nil {
				resp.Body.Close()
			}
		}()
		go func() {
			defer wg.Done()
			resp, err := http.Get(srv.URL + "/live")
			if err == nil {
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	mfs, err := reg.Gather()
	testenv.Must(t, err, "gather")
	misses := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "sightline_console_reads_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var query, result string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "query":
					query = l.GetValue()
				case "result":
					result = l.GetValue()
				}
			}
			if result == "miss" {
				misses[query] += m.GetCounter().GetValue()
			}
		}
	}
	// Requests that straddle a second boundary read a second time.
	for q, n := range misses {
		if n > 2 {
			t.Errorf("%s read %v times for 40 concurrent requests", q, n)
		}
	}
	if misses["live_stamp"] == 0 || misses["key_signals_rates"] == 0 {
		t.Fatalf("reads %v", misses)
	}
	t.Logf("ClickHouse reads for 40 tabs: %v", misses)
}
