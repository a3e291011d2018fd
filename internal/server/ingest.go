package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/sightline-dev/sightline/internal/auth"
	"github.com/sightline-dev/sightline/schemas"
)

// POST /v1/events takes one JSON event, a JSON array of events or JSON
// lines. It never holds a whole body: array elements and lines are
// decoded one at a time and produced as they come, so a request costs
// about its largest event plus its events not yet acknowledged, and the
// bounds in IngestConfig cap how many requests and bytes are in flight.
//
// The answer comes once every produced event is acknowledged by the
// broker: {"accepted": n, "rejected": [{index, reason, error}], "error":
// "..."}. Invalid events are rejected by index while the valid ones are
// stored (200; 400 when none was valid), since the caller is there to fix
// them. A request stopped part-way (body too large without a
// Content-Length, more than max_events_per_request events, a JSON syntax
// error, the broker failing) answers 413, 400 or 503 with the error, and
// the events before that point that were accepted stay stored: accepted
// counts them. Events carry their event_id, so resending the whole
// request stores no duplicates in the deduplicated tables.

// Why a request was refused (label values of
// sightline_ingest_requests_rejected_total).
const (
	rejectConcurrency   = "concurrency"
	rejectInflightBytes = "inflight_bytes"
	rejectBroker        = "broker"
	rejectBodyTooLarge  = "body_too_large"
	rejectTooManyEvents = "too_many_events"
	rejectEmptyBody     = "empty_body"
	rejectMalformed     = "malformed"
	rejectNoValidEvents = "no_valid_events"
	rejectCanceled      = "canceled"
	// rejectWrongTenant: every event claimed a tenant other than the
	// key's, under auth.tenant_mismatch: refuse (403); also the reason
	// of each such event.
	rejectWrongTenant = "wrong_tenant"
)

// Retry-After of the answers that ask the caller to come back.
const (
	retryBusy   = "1" // 429: other requests hold the limits
	retryBroker = "5" // 503: the broker is slow or away
)

// statusClientClosed is nginx's code for a caller that went away; no one
// reads it, but the metrics and logs do.
const statusClientClosed = 499

var errAckTimeout = errors.New("no acknowledgement from the broker within ingest.ack_timeout")

type ingestResult struct {
	Accepted int           `json:"accepted"`
	Rejected []ingestError `json:"rejected,omitempty"`
	Error    string        `json:"error,omitempty"`
}

type ingestError struct {
	Index  int    `json:"index"`
	Reason string `json:"reason"`
	Error  string `json:"error"`
}

// ingester serves POST /v1/events within its IngestConfig.
type ingester struct {
	cfg IngestConfig
	// mismatch: what happens to an event claiming a tenant other than
	// its key's (the guard's auth.tenant_mismatch).
	mismatch  auth.TenantMismatch
	relabeled prometheus.Counter
	prod      *kgo.Client
	topic     string
	slots     chan struct{} // one per request being served
	// budget holds body bytes + unacknowledged event bytes; bodyBytes
	// and brokerBytes split what it holds, to tell a slow broker (503)
	// from many callers (429).
	budget                 byteBudget
	bodyBytes, brokerBytes atomic.Int64

	requests         prometheus.Counter
	rejectedRequests *prometheus.CounterVec
	eventsAccepted   prometheus.Counter
	eventsRejected   *prometheus.CounterVec
	receivedBytes    prometheus.Counter
}

const inflightHelp = "Bytes held under ingest.max_inflight_bytes: reserved for bodies being read and decoded (stage=body), " +
	"and of events waiting for the broker's acknowledgement (stage=broker)."

func newIngester(cfg IngestConfig, prod *kgo.Client, topic string, reg prometheus.Registerer) (*ingester, error) {
	in := &ingester{
		cfg: cfg, prod: prod, topic: topic,
		slots:  make(chan struct{}, cfg.MaxConcurrentRequests),
		budget: byteBudget{size: cfg.MaxInflightBytes},
		requests: prometheus.NewCounter(prometheus.CounterOpts{Name: "sightline_ingest_requests_total",
			Help: "POST /v1/events requests received."}),
		rejectedRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sightline_ingest_requests_rejected_total",
			Help: "POST /v1/events requests answered with an error, by reason (concurrency and inflight_bytes: 429; broker: 503; body_too_large and too_many_events: 413; empty_body, malformed and no_valid_events: 400; canceled: the caller went away)."},
			[]string{"reason"}),
		eventsAccepted: prometheus.NewCounter(prometheus.CounterOpts{Name: "sightline_ingest_events_accepted_total",
			Help: "Events taken through POST /v1/events and acknowledged by the broker."}),
		eventsRejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sightline_ingest_events_rejected_total",
			Help: "Events refused by POST /v1/events, by reason (the schema's rejection reasons; broker: produced but not acknowledged)."},
			[]string{"reason"}),
		receivedBytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "sightline_ingest_received_bytes_total",
			Help: "Body bytes read by POST /v1/events."}),
		relabeled: prometheus.NewCounter(prometheus.CounterOpts{Name: "sightline_ingest_events_relabeled_total",
			Help: "Events that claimed a tenant other than their API key's and were stored under the key's (auth.tenant_mismatch: relabel)."}),
		mismatch: auth.Relabel,
	}
	for _, r := range []string{rejectConcurrency, rejectInflightBytes, rejectBroker, rejectBodyTooLarge, rejectTooManyEvents,
		rejectEmptyBody, rejectMalformed, rejectNoValidEvents, rejectCanceled, rejectWrongTenant} {
		in.rejectedRequests.WithLabelValues(r)
	}
	for _, r := range []schemas.Reason{schemas.ReasonDecode, schemas.ReasonSchemaVersion, schemas.ReasonMissingField,
		schemas.ReasonInvalidField, schemas.ReasonTooLarge, "encode", rejectBroker, rejectWrongTenant} {
		in.eventsRejected.WithLabelValues(string(r))
	}
	collectors := []prometheus.Collector{in.requests, in.rejectedRequests, in.eventsAccepted, in.eventsRejected, in.receivedBytes, in.relabeled,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sightline_ingest_inflight_bytes",
			Help:        inflightHelp,
			ConstLabels: prometheus.Labels{"stage": "body"}}, func() float64 { return float64(in.bodyBytes.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sightline_ingest_inflight_bytes",
			Help:        inflightHelp,
			ConstLabels: prometheus.Labels{"stage": "broker"}}, func() float64 { return float64(in.brokerBytes.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sightline_ingest_inflight_requests",
			Help: "POST /v1/events requests being served (at most ingest.max_concurrent_requests)."}, func() float64 { return float64(len(in.slots)) }),
	}
	for _, c := range collectors {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("cannot register ingest metrics: %w", err)
		}
	}
	return in, nil
}

// ServeHTTP answers POST /v1/events. The request's Principal (the guard
// put it in the context) decides the tenant of its events.
func (in *ingester) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	in.requests.Inc()
	who, ok := auth.FromContext(r.Context())
	if !ok {
		auth.WriteDenied(w, &auth.Denied{Status: http.StatusUnauthorized, Err: errors.New("no authentication ran for this request")}, false)
		return
	}
	switch {
	case r.ContentLength > in.cfg.MaxBodyBytes:
		in.refuse(w, http.StatusRequestEntityTooLarge, rejectBodyTooLarge, "", fmt.Sprintf(
			"body of %d bytes is over ingest.max_body_bytes (%d): send fewer events per request", r.ContentLength, in.cfg.MaxBodyBytes))
		return
	case r.ContentLength == 0:
		in.refuse(w, http.StatusBadRequest, rejectEmptyBody, "", errEmptyBody)
		return
	}
	select {
	case in.slots <- struct{}{}:
		defer func() { <-in.slots }()
	default:
		in.refuse(w, http.StatusTooManyRequests, rejectConcurrency, retryBusy, fmt.Sprintf(
			"too many ingest requests at once (ingest.max_concurrent_requests is %d): retry later", in.cfg.MaxConcurrentRequests))
		return
	}

	// Reserve the whole body up front: a request holding part of its
	// bytes while waiting for the rest could deadlock with others.
	reserve := r.ContentLength
	if reserve < 0 {
		reserve = in.cfg.MaxBodyBytes
	}
	qctx, cancel := context.WithTimeout(r.Context(), in.cfg.QueueTimeout)
	err := in.budget.acquire(qctx, reserve)
	cancel()
	if err != nil {
		switch {
		case r.Context().Err() != nil:
			in.refuse(w, statusClientClosed, rejectCanceled, "", "the caller went away")
		case in.brokerBytes.Load() >= in.cfg.MaxInflightBytes/2:
			in.refuse(w, http.StatusServiceUnavailable, rejectBroker, retryBroker, fmt.Sprintf(
				"the broker is not keeping up: %d bytes of events wait for its acknowledgement (ingest.max_inflight_bytes is %d): retry later",
				in.brokerBytes.Load(), in.cfg.MaxInflightBytes))
		default:
			in.refuse(w, http.StatusTooManyRequests, rejectInflightBytes, retryBusy, fmt.Sprintf(
				"no room for %d more bytes in flight within ingest.queue_timeout (%s; ingest.max_inflight_bytes is %d): retry later",
				reserve, in.cfg.QueueTimeout, in.cfg.MaxInflightBytes))
		}
		return
	}
	in.bodyBytes.Add(reserve)

	run := in.newRun(r.Context(), reserve)
	run.who = who
	stop := run.read(http.MaxBytesReader(w, r.Body, in.cfg.MaxBodyBytes))
	run.giveBack(run.held) // what the body did not use
	in.answer(w, run, stop)
}

const errEmptyBody = "empty body: want a JSON event, a JSON array of events or JSON lines"

func (in *ingester) refuse(w http.ResponseWriter, code int, reason, retryAfter, msg string) {
	in.rejectedRequests.WithLabelValues(reason).Inc()
	if retryAfter != "" {
		w.Header().Set("Retry-After", retryAfter)
	}
	writeJSON(w, code, ingestResult{Error: msg})
}

// stopped is why a run stopped reading before the end of its body.
type stopped struct {
	code   int
	reason string
	msg    string
}

// answer waits for the run's events to be acknowledged and answers.
func (in *ingester) answer(w http.ResponseWriter, run *ingestRun, stop *stopped) {
	run.wait()
	res := ingestResult{Accepted: int(run.acked.Load()), Rejected: run.rejected}
	retryAfter := ""
	switch {
	case errors.Is(context.Cause(run.ctx), errAckTimeout):
		stop = run.ackTimeout()
	case run.callerGone():
		stop = &stopped{statusClientClosed, rejectCanceled, "the caller went away"}
	case run.failure() != nil:
		stop = &stopped{http.StatusServiceUnavailable, rejectBroker, "cannot produce events (retry later): " + run.failure().Error()}
	}
	if stop == nil && res.Accepted == 0 && len(res.Rejected) > 0 {
		stop = &stopped{http.StatusBadRequest, rejectNoValidEvents, "no valid event: see rejected"}
		if !slices.ContainsFunc(res.Rejected, func(e ingestError) bool { return e.Reason != rejectWrongTenant }) {
			stop = &stopped{http.StatusForbidden, rejectWrongTenant, fmt.Sprintf(
				"every event claims a tenant this API key does not send for (it sends for %q; auth.tenant_mismatch is refuse)", run.who.Tenant)}
		}
	}
	code := http.StatusOK
	if stop != nil {
		code, res.Error = stop.code, stop.msg
		in.rejectedRequests.WithLabelValues(stop.reason).Inc()
		if stop.reason == rejectBroker {
			retryAfter = retryBroker
		}
	}
	if retryAfter != "" {
		w.Header().Set("Retry-After", retryAfter)
	}
	writeJSON(w, code, res)
}

// ingestRun is one request's events on their way to the broker.
type ingestRun struct {
	in  *ingester
	who auth.Principal // the key: its tenant is the events' tenant
	// held: reserved bytes not yet given back or handed to an event
	// waiting for the broker; only the handler's goroutine touches it.
	held     int64
	index    int // events seen (array elements or non-empty lines)
	rejected []ingestError

	// ctx is the events' produce context: cancelled when the caller
	// goes away or the broker stops acknowledging (errAckTimeout).
	ctx, caller context.Context
	cancel      context.CancelCauseFunc
	watchdog    chan struct{} // closed when the watchdog goroutine ends
	outstanding atomic.Int64  // events produced and not yet acknowledged or failed
	readDone    atomic.Bool
	allDone     chan struct{} // closed (once) when the body is read and nothing is outstanding
	closeOnce   sync.Once
	lastAck     atomic.Int64 // unix nanoseconds of the last acknowledgement, or of the first event waiting
	acked       atomic.Int64
	mu          sync.Mutex
	firstErr    error // of the produced events, under mu
}

func (in *ingester) newRun(caller context.Context, reserve int64) *ingestRun {
	ctx, cancel := context.WithCancelCause(caller)
	run := &ingestRun{in: in, held: reserve, ctx: ctx, caller: caller, cancel: cancel,
		watchdog: make(chan struct{}), allDone: make(chan struct{})}
	go run.watchAcks()
	return run
}

// watchAcks gives up on the broker (cancelling the run's produce context
// with errAckTimeout) once events have waited ack_timeout without any
// acknowledgement. It ends with the run's context.
func (run *ingestRun) watchAcks() {
	defer close(run.watchdog)
	timeout := run.in.cfg.AckTimeout
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case <-run.ctx.Done():
			return
		case <-t.C:
		}
		next := timeout
		if run.outstanding.Load() > 0 {
			waited := time.Since(time.Unix(0, run.lastAck.Load()))
			if waited >= timeout {
				run.cancel(errAckTimeout)
				return
			}
			next = timeout - waited
		}
		t.Reset(next)
	}
}

// giveBack returns n reserved body bytes to the budget.
func (run *ingestRun) giveBack(n int64) {
	n = min(n, run.held)
	run.held -= n
	run.in.bodyBytes.Add(-n)
	run.in.budget.release(n)
}

// read decodes the body and produces its events, returning why it
// stopped early (nil when the body was read to its end).
func (run *ingestRun) read(body io.Reader) *stopped {
	cr := &countingReader{r: body}
	defer func() { run.in.receivedBytes.Add(float64(cr.n)) }()
	br := bufio.NewReaderSize(cr, 64<<10)
	var first byte
	for {
		c, err := br.ReadByte()
		if err != nil {
			if err == io.EOF {
				return &stopped{http.StatusBadRequest, rejectEmptyBody, errEmptyBody}
			}
			return run.readError(err)
		}
		if !isSpace(c) {
			first = c
			break
		}
	}
	br.UnreadByte()
	if first == '[' {
		return run.readArray(br)
	}
	return run.readLines(br)
}

// readArray streams the elements of a JSON array.
func (run *ingestRun) readArray(r io.Reader) *stopped {
	dec := json.NewDecoder(r)
	if _, err := dec.Token(); err != nil { // the '[' read already
		return run.readError(err)
	}
	var (
		raw  json.RawMessage // reused: DecodeJSON keeps no reference to it
		done int64
	)
	for dec.More() {
		if run.index == run.in.cfg.MaxEventsPerRequest {
			return run.tooMany()
		}
		if err := dec.Decode(&raw); err != nil {
			return run.readError(fmt.Errorf("element %d: %w", run.index, err))
		}
		end := dec.InputOffset()
		if stop := run.event(raw, end-done); stop != nil {
			return stop
		}
		done = end
	}
	if _, err := dec.Token(); err != nil { // ']'
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return run.readError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err == nil {
			err = errors.New("more JSON")
		}
		return run.readError(fmt.Errorf("after the array: %w", err))
	}
	return nil
}

// readLines reads JSON lines (one event is one line); a line that is not
// a valid event is rejected by its index and the others still go.
func (run *ingestRun) readLines(br *bufio.Reader) *stopped {
	var long []byte // a line longer than br's buffer, gathered
	for {
		chunk, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long, chunk...)
			continue
		}
		if err != nil && err != io.EOF {
			return run.readError(err)
		}
		doc := chunk
		if len(long) > 0 {
			long = append(long, chunk...)
			doc = long
		}
		cost := int64(len(doc))
		switch doc = bytes.TrimSpace(doc); {
		case len(doc) == 0:
			run.giveBack(cost)
		case run.index == run.in.cfg.MaxEventsPerRequest:
			return run.tooMany()
		default:
			if stop := run.event(doc, cost); stop != nil {
				return stop
			}
		}
		long = long[:0]
		if err == io.EOF {
			return nil
		}
	}
}

func (run *ingestRun) tooMany() *stopped {
	return &stopped{http.StatusRequestEntityTooLarge, rejectTooManyEvents, fmt.Sprintf(
		"more than %d events in one request (ingest.max_events_per_request): this answer accounts for the first %d; send the rest in another request",
		run.in.cfg.MaxEventsPerRequest, run.in.cfg.MaxEventsPerRequest)}
}

// readError turns an error reading or parsing the body into an answer.
func (run *ingestRun) readError(err error) *stopped {
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return &stopped{http.StatusRequestEntityTooLarge, rejectBodyTooLarge, fmt.Sprintf(
			"body is over ingest.max_body_bytes (%d): send fewer events per request", tooLarge.Limit)}
	case run.callerGone():
		return &stopped{statusClientClosed, rejectCanceled, "the caller went away"}
	}
	return &stopped{http.StatusBadRequest, rejectMalformed, "body is not a JSON event, a JSON array of events or JSON lines: " + err.Error()}
}

func (run *ingestRun) callerGone() bool { return run.caller.Err() != nil }

// event decodes, validates and produces one event whose bytes in the body
// cost cost bytes of the reservation.
func (run *ingestRun) event(doc []byte, cost int64) *stopped {
	i := run.index
	run.index++
	ev, err := schemas.DecodeJSON(doc)
	var b []byte
	if err == nil {
		// The key decides the tenant, never the payload.
		var relabeled bool
		if ev.Tenant, relabeled, err = run.who.IngestTenant(ev.Tenant, run.in.mismatch); err != nil {
			run.rejected = append(run.rejected, ingestError{Index: i, Reason: rejectWrongTenant, Error: err.Error()})
			run.in.eventsRejected.WithLabelValues(rejectWrongTenant).Inc()
			run.giveBack(cost)
			return nil
		} else if relabeled {
			run.in.relabeled.Inc()
		}
	}
	if err == nil {
		if b, err = proto.Marshal(ev); err != nil {
			err = &schemas.Error{Reason: "encode", Detail: err.Error()}
		}
	}
	if err != nil {
		reason := string(schemas.ReasonOf(err))
		run.rejected = append(run.rejected, ingestError{Index: i, Reason: reason, Error: err.Error()})
		run.in.eventsRejected.WithLabelValues(reason).Inc()
		run.giveBack(cost)
		return nil
	}
	if run.ctx.Err() != nil {
		run.giveBack(cost)
		if run.callerGone() {
			return &stopped{statusClientClosed, rejectCanceled, "the caller went away"}
		}
		return run.ackTimeout()
	}
	// The event's bytes now wait for the broker: the reservation goes
	// with them and comes back with the acknowledgement.
	cost = min(cost, run.held)
	run.held -= cost
	run.in.bodyBytes.Add(-cost)
	run.in.brokerBytes.Add(cost)
	if run.outstanding.Add(1) == 1 {
		run.lastAck.Store(time.Now().UnixNano())
	}
	run.in.prod.Produce(run.ctx, &kgo.Record{Topic: run.in.topic, Value: b}, func(_ *kgo.Record, err error) {
		if err != nil {
			run.mu.Lock()
			if run.firstErr == nil {
				run.firstErr = err
			}
			run.mu.Unlock()
			run.in.eventsRejected.WithLabelValues(rejectBroker).Inc()
		} else {
			run.acked.Add(1)
			run.in.eventsAccepted.Inc()
		}
		run.lastAck.Store(time.Now().UnixNano())
		run.in.brokerBytes.Add(-cost)
		run.in.budget.release(cost)
		if run.outstanding.Add(-1) == 0 && run.readDone.Load() {
			run.closeOnce.Do(func() { close(run.allDone) })
		}
	})
	return nil
}

// wait returns once every produced event is acknowledged or failed, or
// the run gave up on them (ack timeout, caller gone). Events still with
// the client then keep their bytes of the budget until it lets them go:
// they are in memory until then.
func (run *ingestRun) wait() {
	run.readDone.Store(true)
	if run.outstanding.Load() == 0 {
		run.closeOnce.Do(func() { close(run.allDone) })
	}
	select {
	case <-run.allDone:
	case <-run.ctx.Done():
	}
	run.cancel(nil)
	<-run.watchdog
}

func (run *ingestRun) ackTimeout() *stopped {
	return &stopped{http.StatusServiceUnavailable, rejectBroker, fmt.Sprintf(
		"%v (%s): the events not counted as accepted may or may not be stored; retry later", errAckTimeout, run.in.cfg.AckTimeout)}
}

// failure is the first produce error.
func (run *ingestRun) failure() error {
	run.mu.Lock()
	defer run.mu.Unlock()
	return run.firstErr
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
