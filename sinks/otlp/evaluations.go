// Package otlp exports Sightline's per-event scores back to OpenTelemetry
// as gen_ai.evaluation.result log events (OTLP/HTTP, protobuf), each
// parented to the span of the LLM call it judges, so a tracing backend
// shows the evaluations beside the call.
//
// Export is best effort and never slows the score stage: Add converts and
// queues without blocking; a full queue, a rejected request or an endpoint
// that stays unreachable drops records and counts them
// (sightline_evaluations_dropped_total). Records are added after the score
// stage committed its batch, so a replayed batch does not send them twice.
//
// Only scores, labels and short evidence terms are sent: never prompt or
// completion text, never the unsupported spans of a completion (they are
// counted), never PII values (the kinds found are the label). Its log lines
// name the endpoint by its redacted URL and never carry its credentials or
// the values of sensitive headers (internal/redact).
package otlp

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sightline-dev/sightline/internal/redact"
	"github.com/sightline-dev/sightline/internal/retry"
	"github.com/sightline-dev/sightline/processors/detectors"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

// EventName is the OpenTelemetry GenAI event the exporter sends.
const EventName = "gen_ai.evaluation.result"

// Config of the exporter.
type Config struct {
	// Endpoint is the OTLP/HTTP logs URL, e.g.
	// http://127.0.0.1:4318/v1/logs (required; empty in the config file
	// turns the export off).
	Endpoint string `yaml:"otlp_endpoint"`
	// Headers are sent with every request (e.g. an API key).
	Headers map[string]string `yaml:"headers"`
	// Timeout bounds one request (default 10s).
	Timeout time.Duration `yaml:"timeout"`
	// QueueBatches bounds the batches waiting to be sent (default 64);
	// one score-stage batch is one queued batch.
	QueueBatches int `yaml:"queue_batches"`
	// Retries of a request that failed with a network error, 429 or 5xx
	// (default 3, with backoff from 200ms).
	Retries int          `yaml:"retries"`
	Logger  *slog.Logger `yaml:"-"`
}

// Validate names the first invalid field as in the YAML config.
func (c Config) Validate() error {
	u, err := url.Parse(c.Endpoint)
	if c.Endpoint == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("evaluations.otlp_endpoint: %q is not an http(s) URL (e.g. http://127.0.0.1:4318/v1/logs)", redact.URL(c.Endpoint))
	}
	if c.Timeout < 0 || c.QueueBatches < 0 || c.Retries < 0 {
		return errors.New("evaluations: timeout, queue_batches and retries must not be negative")
	}
	return nil
}

// Exporter sends evaluation events. Add and Close may be called from
// different goroutines.
type Exporter struct {
	cfg    Config
	client *http.Client
	queue  chan []record
	done   chan struct{}
	// stop ends retry sleeps once Close gives up waiting.
	stopCtx context.Context
	stop    context.CancelFunc

	mu     sync.Mutex
	closed bool

	exported prometheus.Counter
	dropped  *prometheus.CounterVec

	// endpoint and sec are what logs say about the endpoint: its URL and
	// errors without its credentials or the values of sensitive headers.
	endpoint string
	sec      *redact.Secrets
}

// New starts an exporter; Close stops it.
func New(cfg Config, reg prometheus.Registerer) (*Exporter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.QueueBatches == 0 {
		cfg.QueueBatches = 64
	}
	if cfg.Retries == 0 {
		cfg.Retries = 3
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	secrets := redact.URLSecrets(cfg.Endpoint)
	for k, v := range cfg.Headers {
		if redact.SensitiveHeader(k) {
			secrets = append(secrets, v)
		}
	}
	stopCtx, stop := context.WithCancel(context.Background())
	e := &Exporter{
		stopCtx:  stopCtx,
		stop:     stop,
		cfg:      cfg,
		client:   &http.Client{Timeout: cfg.Timeout},
		queue:    make(chan []record, cfg.QueueBatches),
		done:     make(chan struct{}),
		endpoint: redact.URL(cfg.Endpoint),
		sec:      redact.NewSecrets(secrets...),
		exported: prometheus.NewCounter(prometheus.CounterOpts{Name: "sightline_evaluations_exported_total",
			Help: "gen_ai.evaluation.result events accepted by the OTLP endpoint."}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sightline_evaluations_dropped_total",
			Help: "gen_ai.evaluation.result events not delivered, by reason (queue_full, rejected, unreachable, closed)."}, []string{"reason"}),
	}
	if reg != nil {
		if err := reg.Register(e.exported); err != nil {
			return nil, err
		}
		if err := reg.Register(e.dropped); err != nil {
			return nil, err
		}
	}
	go e.run()
	return e, nil
}

// Add queues the evaluations of rows (events the score stage stored). It
// never blocks: when the queue is full the batch is dropped and counted.
// It keeps only what the records need (the events' strings are not
// changed after the stage hands them over), and the encoding happens on
// the exporter's goroutine, off the stage's.
func (e *Exporter) Add(rows []chsink.EventRow) {
	recs := records(rows)
	n := countEvals(recs)
	if n == 0 {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		e.dropped.WithLabelValues("closed").Add(float64(n))
		return
	}
	select {
	case e.queue <- recs:
	default:
		e.dropped.WithLabelValues("queue_full").Add(float64(n))
	}
}

// Close stops accepting records and sends what is queued, waiting until
// ctx ends at the most; batches still queued then are not sent.
func (e *Exporter) Close(ctx context.Context) {
	e.mu.Lock()
	if !e.closed {
		e.closed = true
		close(e.queue)
	}
	e.mu.Unlock()
	select {
	case <-e.done:
	case <-ctx.Done():
		e.stop() // no more retries: what is queued is dropped and counted
	}
}

func (e *Exporter) run() {
	defer close(e.done)
	var (
		enc encoder
		buf []byte
	)
	for recs := range e.queue {
		buf = enc.appendRequest(buf[:0], recs, time.Now())
		e.send(buf, countEvals(recs))
	}
}

// send posts one encoded batch of n records, retrying network errors,
// 429 and 5xx.
func (e *Exporter) send(body []byte, n int) {
	for attempt := 0; ; attempt++ {
		status, err := e.post(body)
		switch {
		case err == nil && status/100 == 2:
			e.exported.Add(float64(n))
			return
		case err == nil && status != http.StatusTooManyRequests && status/100 != 5:
			e.cfg.Logger.Warn("otlp endpoint rejected evaluation events", "endpoint", e.endpoint, "status", status, "events", n)
			e.dropped.WithLabelValues("rejected").Add(float64(n))
			return
		case attempt >= e.cfg.Retries:
			e.cfg.Logger.Warn("cannot send evaluation events", "endpoint", e.endpoint, "status", status, "err", e.sec.Error(err), "events", n)
			e.dropped.WithLabelValues("unreachable").Add(float64(n))
			return
		}
		if retry.Sleep(e.stopCtx, retry.Backoff(200*time.Millisecond, 5*time.Second, attempt+1)) != nil {
			e.dropped.WithLabelValues("closed").Add(float64(n))
			return
		}
	}
}

func (e *Exporter) post(body []byte) (int, error) {
	req, err := http.NewRequest(http.MethodPost, e.cfg.Endpoint, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	for k, v := range e.cfg.Headers {
		req.Header.Set(k, v)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		// The *url.Error's text repeats the endpoint unredacted; the log
		// line names it (redacted) already.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode, nil
}

// record is what one event's evaluation records need.
type record struct {
	tenant, app, env         string
	model, responseID, event string
	traceID                  [16]byte
	spanID                   [8]byte
	traced                   bool
	ts                       uint64 // call start, Unix nanoseconds
	evals                    []evaluation
}

// records keeps the evaluations of rows, in one allocation for the
// records and one for their evaluations.
func records(rows []chsink.EventRow) []record {
	n := 0
	for i := range rows {
		if rows[i].Event != nil {
			n++
		}
	}
	recs := make([]record, 0, n)
	evals := make([]evaluation, 0, 8*n)
	for i := range rows {
		ev := rows[i].Event
		if ev == nil {
			continue
		}
		start := len(evals)
		evals = appendEvaluations(evals, &rows[i].Scores)
		if len(evals) == start {
			continue
		}
		r := record{tenant: ev.Tenant, app: ev.App, env: ev.Environment, model: ev.Model,
			responseID: ev.ResponseId, event: ev.EventId, evals: evals[start:len(evals):len(evals)]}
		r.traced = decodeID(r.traceID[:], ev.TraceId) && decodeID(r.spanID[:], ev.SpanId)
		if ts := ev.GetTs(); ts != nil && ts.Seconds > 0 {
			r.ts = uint64(ts.Seconds)*1e9 + uint64(ts.Nanos)
		}
		recs = append(recs, r)
	}
	return recs
}

func countEvals(recs []record) int {
	n := 0
	for i := range recs {
		n += len(recs[i].evals)
	}
	return n
}

func decodeID(dst []byte, s string) bool {
	if len(s) != 2*len(dst) {
		return false
	}
	_, err := hex.Decode(dst, []byte(s))
	return err == nil && !allZero(dst)
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

type evaluation struct {
	name, label, explanation string
	value                    float64
}

// appendEvaluations appends the outputs of an event that its schema
// exports (detectors.Eval), in schema order, for those it has.
func appendEvaluations(out []evaluation, sc *detectors.Scores) []evaluation {
	for i := 0; i < sc.Schema.Len() && i < len(sc.Values); i++ {
		o, v := sc.Schema.Output(i), &sc.Values[i]
		e := o.Eval
		if e == nil {
			continue
		}
		ev := evaluation{name: e.Name, value: v.Num}
		switch o.Kind {
		case detectors.Kinds:
			if len(v.List) == 0 {
				continue
			}
			kinds := append([]string(nil), v.List...)
			sort.Strings(kinds)
			ev.value, ev.label = float64(len(kinds)), strings.Join(kinds, ",")
		case detectors.Metric:
			if !v.Valid {
				continue
			}
			ev.label = e.Positive
		default: // a decision: a probability with its threshold, a flag
			if !v.Valid {
				continue
			}
			ev.label = e.Negative
			if sc.Decided(i) {
				ev.label = e.Positive
			}
		}
		if e.Explanation != "" {
			if j := sc.Schema.Index(e.Explanation); j >= 0 && j < len(sc.Values) {
				items := sc.Values[j].List
				switch {
				case len(items) == 0:
				case e.CountOnly:
					ev.explanation = strconv.Itoa(len(items)) + " " + strings.ReplaceAll(e.Explanation, "_", " ")
				default:
					ev.explanation = strings.Join(items, "; ")
				}
			}
		}
		out = append(out, ev)
	}
	return out
}
