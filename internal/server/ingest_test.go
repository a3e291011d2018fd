package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sightline-dev/sightline/internal/broker"
	"github.com/sightline-dev/sightline/internal/server"
	"github.com/sightline-dev/sightline/internal/testenv"
)

// ingestEnv is a server with ingest enabled on an in-process broker.
type ingestEnv struct {
	t    *testing.T
	b    *broker.Broker
	url  string
	base string
}

func startIngest(t *testing.T, ic server.IngestConfig) *ingestEnv {
	t.Helper()
	b := testenv.Broker(t, "")
	prod, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...))
	testenv.Must(t, err, "producer")
	t.Cleanup(prod.Close)
	s, err := server.Start(server.Config{Addr: "127.0.0.1:0", Gatherer: prometheus.NewRegistry(), Producer: prod,
		Topic: broker.TopicEvents, Ingest: ic})
	testenv.Must(t, err, "start")
	t.Cleanup(func() { s.Close(context.Background()) })
	return &ingestEnv{t: t, b: b, base: "http://" + s.Addr(), url: "http://" + s.Addr() + "/v1/events"}
}

type answer struct {
	code       int
	retryAfter string
	Accepted   int
	Rejected   []struct {
		Index  int
		Reason string
	}
	Error string
}

// post sends body (with its length, or chunked when body is a plain
// io.Reader) and decodes the JSON answer.
func (e *ingestEnv) post(body io.Reader) answer {
	e.t.Helper()
	resp, err := http.Post(e.url, "application/json", body)
	testenv.Must(e.t, err, "post")
	defer resp.Body.Close()
	a := answer{code: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After")}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		e.t.Fatalf("answer %d has Content-Type %q", resp.StatusCode, ct)
	}
	testenv.Must(e.t, json.NewDecoder(resp.Body).Decode(&a), "decode answer")
	return a
}

// stored is the number of records on the events topic.
func (e *ingestEnv) stored() int64 {
	e.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.b.Addrs()...))
	testenv.Must(e.t, err, "admin client")
	defer cl.Close()
	offs, err := kadm.NewClient(cl).ListEndOffsets(context.Background(), broker.TopicEvents)
	testenv.Must(e.t, err, "list offsets")
	var n int64
	offs.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return n
}

// metric is the value of one series on /metrics, e.g.
// `sightline_ingest_requests_rejected_total{reason="concurrency"}`.
func (e *ingestEnv) metric(series string) string {
	e.t.Helper()
	resp, err := http.Get(e.base + "/metrics")
	testenv.Must(e.t, err, "get metrics")
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			return v
		}
	}
	return ""
}

func (e *ingestEnv) waitFor(series, want string) {
	e.t.Helper()
	testenv.Eventually(e.t, 10*time.Second, series+" "+want, func() (bool, string) {
		got := e.metric(series)
		return got == want, got
	})
}

func validEvent() string {
	return fmt.Sprintf(`{"schema_version":1,"event_id":%q,"app":"a","model":"m","ts":"2026-11-27T10:00:00Z","prompt":[{"role":"user","content":"hi"}]}`,
		uuid.Must(uuid.NewV7()).String())
}

func TestIngestBadBodies(t *testing.T) {
	e := startIngest(t, server.IngestConfig{MaxBodyBytes: 4 << 10, MaxEventsPerRequest: 3})
	ok := validEvent()
	for _, c := range []struct {
		name     string
		body     io.Reader
		code     int
		accepted int
		want     string // in the error
	}{
		{"empty", strings.NewReader(""), 400, 0, "empty body"},
		{"only spaces", strings.NewReader(" \n\t "), 400, 0, "empty body"},
		{"empty and chunked", io.MultiReader(strings.NewReader("")), 400, 0, "empty body"},
		{"over the limit", strings.NewReader("[" + strings.Repeat(ok+",", 40) + ok + "]"), 413, 0, "ingest.max_body_bytes (4096)"},
		// Without a length the limit is found while reading: what came
		// before it is stored and counted.
		{"over the limit, chunked", io.MultiReader(strings.NewReader("[" + ok + "," + strings.Repeat(" ", 5000) + ok + "]")), 413, 1, "ingest.max_body_bytes"},
		{"too many events", strings.NewReader("[" + ok + "," + ok + "," + ok + "," + ok + "]"), 413, 3, "more than 3 events"},
		{"too many lines", strings.NewReader(ok + "\n" + ok + "\n\n" + ok + "\n" + ok + "\n"), 413, 3, "ingest.max_events_per_request"},
		{"syntax error after two events", strings.NewReader("[" + ok + "," + ok + ",{]"), 400, 2, "element 2"},
		{"more after the array", strings.NewReader("[" + ok + "] x"), 400, 1, "after the array"},
		{"unterminated array", strings.NewReader("[" + ok), 400, 1, "unexpected EOF"},
		{"no valid event", strings.NewReader(`[{"app":"a"}, 3]`), 400, 0, ""},
	} {
		before := e.stored()
		a := e.post(c.body)
		if a.code != c.code || a.Accepted != c.accepted || !strings.Contains(a.Error, c.want) {
			t.Errorf("%s: %d accepted %d %q, want %d accepted %d with %q", c.name, a.code, a.Accepted, a.Error, c.code, c.accepted, c.want)
		}
		if got := e.stored() - before; got != int64(c.accepted) {
			t.Errorf("%s: %d events stored, %d accepted", c.name, got, c.accepted)
		}
	}

	// Invalid elements are reported by index; the valid ones are stored.
	a := e.post(strings.NewReader("[" + ok + `,{"schema_version":1,"app":"a"},` + ok + "]"))
	if a.code != 200 || a.Accepted != 2 || len(a.Rejected) != 1 || a.Rejected[0].Index != 1 || a.Rejected[0].Reason != "missing_field" {
		t.Errorf("array with an invalid element: %+v", a)
	}
	if a := e.post(strings.NewReader("[]")); a.code != 200 || a.Accepted != 0 {
		t.Errorf("empty array: %+v", a)
	}
	for series, want := range map[string]string{
		`sightline_ingest_requests_rejected_total{reason="empty_body"}`:      "3",
		`sightline_ingest_requests_rejected_total{reason="body_too_large"}`:  "2",
		`sightline_ingest_requests_rejected_total{reason="too_many_events"}`: "2",
		`sightline_ingest_requests_rejected_total{reason="malformed"}`:       "3",
		`sightline_ingest_requests_rejected_total{reason="no_valid_events"}`: "1",
		`sightline_ingest_events_accepted_total`:                             "13",
		`sightline_ingest_events_rejected_total{reason="schema_version"}`:    "1",
		`sightline_ingest_events_rejected_total{reason="decode"}`:            "1",
		`sightline_ingest_events_rejected_total{reason="missing_field"}`:     "1",
		`sightline_ingest_inflight_bytes{stage="body"}`:                      "0",
		`sightline_ingest_inflight_bytes{stage="broker"}`:                    "0",
	} {
		if got := e.metric(series); got != want {
			t.Errorf("%s = %q, want %s", series, got, want)
		}
	}
}

// openRequest starts a chunked POST whose body stays open until the
// returned function is called with the rest; that function returns the
// answer.
func (e *ingestEnv) openRequest(start string) func(rest string) answer {
	pr, pw := io.Pipe()
	done := make(chan answer, 1)
	go func() { done <- e.postQuiet(pr) }()
	pw.Write([]byte(start))
	return func(rest string) answer {
		pw.Write([]byte(rest))
		pw.Close()
		return <-done
	}
}

// postQuiet is post for another goroutine: failures come back as code 0.
func (e *ingestEnv) postQuiet(body io.Reader) answer {
	resp, err := http.Post(e.url, "application/json", body)
	if err != nil {
		return answer{Error: err.Error()}
	}
	defer resp.Body.Close()
	a := answer{code: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After")}
	json.NewDecoder(resp.Body).Decode(&a)
	return a
}

func TestIngestConcurrencyLimit(t *testing.T) {
	e := startIngest(t, server.IngestConfig{MaxConcurrentRequests: 1})
	finish := e.openRequest("[")
	e.waitFor("sightline_ingest_inflight_requests", "1")
	if a := e.post(strings.NewReader(validEvent())); a.code != 429 || a.retryAfter != "1" || !strings.Contains(a.Error, "ingest.max_concurrent_requests is 1") {
		t.Errorf("second request at once: %+v", a)
	}
	if a := finish(validEvent() + "]"); a.code != 200 || a.Accepted != 1 {
		t.Errorf("first request: %+v", a)
	}
	if a := e.post(strings.NewReader(validEvent())); a.code != 200 || a.Accepted != 1 {
		t.Errorf("after the first: %+v", a)
	}
	if got := e.metric(`sightline_ingest_requests_rejected_total{reason="concurrency"}`); got != "1" {
		t.Errorf("concurrency rejections: %s", got)
	}
}

func TestIngestInflightBytesLimit(t *testing.T) {
	// A chunked body reserves max_body_bytes, here all there is.
	e := startIngest(t, server.IngestConfig{MaxBodyBytes: 2 << 10, MaxInflightBytes: 2 << 10, QueueTimeout: time.Second})
	finish := e.openRequest("[")
	e.waitFor(`sightline_ingest_inflight_bytes{stage="body"}`, "2048")
	if a := e.post(strings.NewReader(validEvent())); a.code != 429 || a.retryAfter != "1" || !strings.Contains(a.Error, "ingest.max_inflight_bytes is 2048") {
		t.Errorf("request without room: %+v", a)
	}
	// The room comes back when the first one ends: a waiting request
	// gets it.
	second := make(chan answer, 1)
	go func() { second <- e.postQuiet(strings.NewReader(validEvent())) }()
	time.Sleep(100 * time.Millisecond)
	if a := finish(validEvent() + "]"); a.code != 200 || a.Accepted != 1 {
		t.Errorf("first request: %+v", a)
	}
	if a := <-second; a.code != 200 || a.Accepted != 1 {
		t.Errorf("request that waited for room: %+v", a)
	}
	e.waitFor(`sightline_ingest_inflight_bytes{stage="body"}`, "0")
	if got := e.metric(`sightline_ingest_requests_rejected_total{reason="inflight_bytes"}`); got != "1" {
		t.Errorf("inflight_bytes rejections: %s", got)
	}
}

// With the broker gone, events wait for an acknowledgement that never
// comes: the request answers 503 after ack_timeout, and a request that
// finds the room held by such events answers 503 too.
func TestIngestBrokerDown(t *testing.T) {
	e := startIngest(t, server.IngestConfig{MaxBodyBytes: 4 << 10, MaxInflightBytes: 6 << 10,
		QueueTimeout: 300 * time.Millisecond, AckTimeout: 2 * time.Second})
	if a := e.post(strings.NewReader(validEvent())); a.code != 200 {
		t.Fatalf("with the broker up: %+v", a)
	}
	e.b.Close()

	events := make([]string, 0, 20)
	for len(strings.Join(events, ",")) < 3<<10 {
		events = append(events, validEvent())
	}
	body := "[" + strings.Join(events, ",") + "]"
	first := make(chan answer, 1)
	go func() { first <- e.postQuiet(strings.NewReader(body)) }()
	e.waitFor(`sightline_ingest_inflight_bytes{stage="broker"}`, fmt.Sprint(len(body)-1)) // all but the closing bracket
	if a := e.post(strings.NewReader(body)); a.code != 503 || a.retryAfter != "5" ||
		!strings.Contains(a.Error, "broker is not keeping up") {
		t.Errorf("request while the broker holds the room: %+v", a)
	}
	if a := <-first; a.code != 503 || a.retryAfter != "5" || a.Accepted != 0 || !strings.Contains(a.Error, "ingest.ack_timeout") {
		t.Errorf("request whose events were not acknowledged: %+v", a)
	}
	if got := e.metric(`sightline_ingest_requests_rejected_total{reason="broker"}`); got != "2" {
		t.Errorf("broker rejections: %s", got)
	}
	// The client still holds the events, so their bytes stay counted
	// until the broker is back.
	if got := e.metric(`sightline_ingest_inflight_bytes{stage="broker"}`); got != fmt.Sprint(len(body)-1) {
		t.Errorf("bytes with the client after the answer: %s", got)
	}
	_, port, _ := net.SplitHostPort(e.b.Addrs()[0])
	p, _ := strconv.Atoi(port)
	b, err := broker.Start(broker.Config{Port: p})
	testenv.Must(t, err, "restart the broker")
	defer b.Close()
	e.waitFor(`sightline_ingest_inflight_bytes{stage="broker"}`, "0")
}
