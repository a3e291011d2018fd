package otlp

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sightline-dev/sightline/processors/detectors"
	"github.com/sightline-dev/sightline/processors/detectors/registry"
	"github.com/sightline-dev/sightline/schemas/eventpb"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

// receiver is an OTLP/HTTP logs endpoint that keeps what it receives.
type receiver struct {
	mu     sync.Mutex
	logs   []plog.Logs
	bodies []string
	status atomic.Int32 // answer; 0 = 200
	calls  atomic.Int32
	block  chan struct{} // when set, requests wait on it
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.calls.Add(1)
	if r.block != nil {
		<-r.block
	}
	if s := r.status.Load(); s != 0 {
		w.WriteHeader(int(s))
		return
	}
	body, _ := io.ReadAll(req.Body)
	ex := plogotlp.NewExportRequest()
	if req.Header.Get("Content-Type") != "application/x-protobuf" || req.Header.Get("X-Api-Key") != "k" || ex.UnmarshalProto(body) != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	r.logs = append(r.logs, ex.Logs())
	r.bodies = append(r.bodies, string(body))
	r.mu.Unlock()
}

// scores are empty scores of the default detectors.
func scores() detectors.Scores {
	schema, err := registry.Schema(nil)
	if err != nil {
		panic(err)
	}
	return detectors.NewScores(schema)
}

func rows() []chsink.EventRow {
	ev := &eventpb.Event{EventId: "0190d9a2-0000-7000-8000-000000000001", Tenant: "acme", App: "support-bot",
		Environment: "prod", Model: "gpt-4o", ResponseId: "chatcmpl-1",
		TraceId: "0102030405060708090a0b0c0d0e0f10", SpanId: "1112131415161718",
		Ts:         timestamppb.New(time.Date(2025, 10, 1, 12, 0, 0, 0, time.UTC)),
		Prompt:     []*eventpb.Message{{Role: "user", Content: "my email is jane@example.com"}},
		Completion: []*eventpb.Message{{Role: "assistant", Content: "You are an idiot."}}}
	sc := scores()
	sc.Set("completion_toxicity", 0.93)
	sc.SetList("toxicity_evidence", []string{"idiot"})
	sc.Set("prompt_toxicity", 0.01)
	sc.Set("hallucination", 0.2)
	sc.SetList("unsupported_spans", []string{"the secret spans"})
	sc.Set("prompt_injection", 0.02)
	sc.Set("refusal_confidence", 0.1)
	sc.SetFlag("refusal", false)
	sc.SetList("pii_kinds", []string{"email"})
	sc.Set("rouge_l", 0.5)
	// An event without trace context and with no scores at all.
	bare := &eventpb.Event{EventId: "0190d9a2-0000-7000-8000-000000000002", App: "other"}
	return []chsink.EventRow{{Event: ev, Scores: sc}, {Event: bare}}
}

func TestExport(t *testing.T) {
	r := &receiver{}
	srv := httptest.NewServer(r)
	defer srv.Close()
	reg := prometheus.NewRegistry()
	e, err := New(Config{Endpoint: srv.URL + "/v1/logs", Headers: map[string]string{"X-Api-Key": "k"}}, reg)
	if err != nil {
		t.Fatal(err)
	}
	batch := rows()
	// A second app in the same batch gets a resource of its own.
	other := batch[0]
	otherEv := proto.Clone(other.Event).(*eventpb.Event)
	otherEv.App, otherEv.TraceId = "search", ""
	other.Event = otherEv
	other.Scores = scores()
	other.Scores.Set("completion_toxicity", 0.1)
	e.Add(append(batch, other))
	e.Close(context.Background())

	if len(r.logs) != 1 {
		t.Fatalf("%d requests, want 1", len(r.logs))
	}
	ld := r.logs[0]
	if ld.ResourceLogs().Len() != 2 {
		t.Fatalf("%d resources, want 2 (the event without scores sends nothing)", ld.ResourceLogs().Len())
	}
	second := ld.ResourceLogs().At(1)
	if v, _ := second.Resource().Attributes().Get("service.name"); v.Str() != "search" ||
		second.ScopeLogs().At(0).LogRecords().Len() != 1 || !second.ScopeLogs().At(0).LogRecords().At(0).TraceID().IsEmpty() {
		t.Errorf("second resource: %s with %d records", v.Str(), second.ScopeLogs().At(0).LogRecords().Len())
	}
	rl := ld.ResourceLogs().At(0)
	if v, _ := rl.Resource().Attributes().Get("service.name"); v.Str() != "support-bot" {
		t.Errorf("service.name %q", v.Str())
	}
	got := map[string]string{}
	lrs := rl.ScopeLogs().At(0).LogRecords()
	for i := 0; i < lrs.Len(); i++ {
		lr := lrs.At(i)
		if lr.EventName() != EventName {
			t.Errorf("event name %q", lr.EventName())
		}
		if lr.Timestamp().AsTime() != time.Date(2025, 10, 1, 12, 0, 0, 0, time.UTC) || lr.ObservedTimestamp() == 0 {
			t.Errorf("timestamps %v / %v", lr.Timestamp(), lr.ObservedTimestamp())
		}
		if lr.TraceID().String() != "0102030405060708090a0b0c0d0e0f10" || lr.SpanID().String() != "1112131415161718" {
			t.Errorf("record not parented to the call's span: %s %s", lr.TraceID(), lr.SpanID())
		}
		a := lr.Attributes()
		name, _ := a.Get("gen_ai.evaluation.name")
		label, _ := a.Get("gen_ai.evaluation.score.label")
		value, _ := a.Get("gen_ai.evaluation.score.value")
		got[name.Str()] = label.Str() + "=" + value.AsString()
		if id, _ := a.Get("gen_ai.response.id"); id.Str() != "chatcmpl-1" {
			t.Errorf("%s: response id %q", name.Str(), id.Str())
		}
	}
	want := map[string]string{"toxicity": "toxic=0.93", "prompt_toxicity": "not_toxic=0.01", "hallucination": "supported=0.2",
		"prompt_injection": "benign=0.02", "refusal": "answered=0.1", "pii": "email=1", "rouge_l": "reference=0.5"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("evaluations %v, want %v", got, want)
	}
	for _, secret := range []string{"jane@example.com", "You are an idiot", "the secret spans"} {
		if strings.Contains(r.bodies[0], secret) {
			t.Errorf("request carries event content %q", secret)
		}
	}
	if n := counter(e.exported); n != 8 {
		t.Errorf("exported counter %v, want 8", n)
	}
}

func TestDropsAreCounted(t *testing.T) {
	// Rejected: a 400 is not retried.
	r := &receiver{}
	r.status.Store(http.StatusBadRequest)
	srv := httptest.NewServer(r)
	defer srv.Close()
	e, err := New(Config{Endpoint: srv.URL}, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.Add(rows())
	e.Close(context.Background())
	if n := counter(e.dropped.WithLabelValues("rejected")); n != 7 || r.calls.Load() != 1 {
		t.Errorf("rejected: counted %v after %d calls, want 7 after 1", n, r.calls.Load())
	}

	// Unreachable: 503 is retried, then dropped.
	r2 := &receiver{}
	r2.status.Store(http.StatusServiceUnavailable)
	srv2 := httptest.NewServer(r2)
	defer srv2.Close()
	e2, _ := New(Config{Endpoint: srv2.URL, Retries: 2}, nil)
	e2.Add(rows())
	e2.Close(context.Background())
	if n := counter(e2.dropped.WithLabelValues("unreachable")); n != 7 || r2.calls.Load() != 3 {
		t.Errorf("unreachable: counted %v after %d calls, want 7 after 3", n, r2.calls.Load())
	}

	// Queue full: the endpoint hangs, Add never blocks.
	r3 := &receiver{block: make(chan struct{})}
	srv3 := httptest.NewServer(r3)
	defer srv3.Close()
	defer close(r3.block)
	e3, _ := New(Config{Endpoint: srv3.URL, QueueBatches: 1}, nil)
	start := time.Now()
	for i := 0; i < 5; i++ {
		e3.Add(rows())
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Add blocked for %s", d)
	}
	// One batch is being sent, one waits in the queue, three are dropped.
	if n := counter(e3.dropped.WithLabelValues("queue_full")); n < 14 {
		t.Errorf("queue_full counted %v, want at least 14", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	e3.Close(ctx) // returns at the deadline although the endpoint hangs
	e3.Add(rows())
	if n := counter(e3.dropped.WithLabelValues("closed")); n != 7 {
		t.Errorf("after Close counted %v, want 7", n)
	}
}

func TestConfig(t *testing.T) {
	for _, bad := range []string{"", "127.0.0.1:4318", "ftp://x/v1/logs", "http://"} {
		if _, err := New(Config{Endpoint: bad}, nil); err == nil || !strings.Contains(err.Error(), "evaluations.otlp_endpoint") {
			t.Errorf("endpoint %q: %v", bad, err)
		}
	}
}

// counter reads a counter's value.
func counter(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}

// BenchmarkAdd is the score stage's cost per event when evaluations are
// exported: mapping a batch to log records and queueing it.
func BenchmarkAdd(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	e, err := New(Config{Endpoint: srv.URL, QueueBatches: 1 << 16}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close(context.Background())
	one := rows()[0]
	batch := make([]chsink.EventRow, 1000)
	for i := range batch {
		batch[i] = one
	}
	b.ReportAllocs()
	for b.Loop() {
		e.Add(batch)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/event")
}

// BenchmarkEncode is the exporter goroutine's cost per event: encoding
// the OTLP request.
func BenchmarkEncode(b *testing.B) {
	one := rows()[0]
	batch := make([]chsink.EventRow, 1000)
	for i := range batch {
		batch[i] = one
	}
	recs := records(batch)
	var (
		enc encoder
		buf []byte
	)
	b.ReportAllocs()
	for b.Loop() {
		buf = enc.appendRequest(buf[:0], recs, time.Now())
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/event")
	b.SetBytes(int64(len(buf)))
}
