package sdk

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sightline-dev/sightline/schemas"
	"github.com/sightline-dev/sightline/schemas/eventpb"
	"github.com/sightline-dev/sightline/schemas/kafkaconf"
)

// Version is the SDK version recorded on every event.
const Version = "0.1.0"

// Client records LLM calls and produces them to Kafka. It is safe for
// concurrent use.
type Client struct {
	cfg   cfg
	kcl   *kgo.Client
	queue chan item

	mu      sync.RWMutex // held shared by senders; exclusively by Close
	closing bool

	stop      chan struct{}
	done      chan struct{} // closed when run returns
	closeDone chan struct{} // closed when the first Close has settled the counters
	// abort is the context of every produce: Close cancels it when its own
	// context ends, so that a Produce waiting for room returns and franz-go
	// fails the records it has not sent yet.
	abort       context.Context
	cancelAbort context.CancelFunc

	// pmu guards the records handed to franz-go whose promise has not
	// fired. Close settles them (counts what is left as failed) before it
	// returns; a promise that fires later must not count its record again.
	pmu      sync.Mutex
	inFlight int64
	settled  bool
	lastErr  error // the last produce error, for Close to return

	queued, dropped, sent, failed, sampledOut, encodeErrors atomic.Int64
}

type item struct {
	call Call
	ex   *exchange // set by Transport: raw bytes parsed off the app's goroutine
}

// Stats are the client's counters since it was created. Every recorded call
// is either Queued or Dropped, and every queued call ends as exactly one of
// Sent, Failed, SampledOut or EncodeErrors. Once Close has returned the
// counters are final:
//
//	recorded = Queued + Dropped
//	Queued   = Sent + Failed + SampledOut + EncodeErrors
//
// Before that, the difference in the second line is still in flight.
type Stats struct {
	Queued       int64 // accepted by Record
	Dropped      int64 // rejected because the queue was full or the client closed
	Sent         int64 // acknowledged by the broker
	Failed       int64 // not delivered (broker unreachable past the delivery timeout, too large, not acknowledged when Close's context ended, ...)
	SampledOut   int64 // skipped by sampling
	EncodeErrors int64 // could not be turned into a valid event (counted, never raised)
}

// NewClient creates a client and starts its background producer.
func NewClient(opts ...Opt) (*Client, error) {
	c := defaultCfg()
	for _, o := range opts {
		o.apply(&c)
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	kopts := []kgo.Opt{
		kgo.SeedBrokers(c.brokers...),
		kgo.DefaultProduceTopic(c.topic),
		kgo.ProducerLinger(c.lingerTime),
		kgo.MaxBufferedRecords(c.queueSize),
		kgo.ProducerBatchCompression(kgo.Lz4Compression(), kgo.NoCompression()),
		kgo.RecordDeliveryTimeout(c.deliveryTimeout),
		kgo.ProducerBatchMaxBytes(16 << 20),
		kgo.ClientID("sightline-sdk"),
	}
	k := c.kafka()
	sec, err := k.Opts()
	if err != nil {
		return nil, err
	}
	if k.Secured() {
		// Refused credentials or certificates fail here, once, instead
		// of every event failing after DeliveryTimeout.
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		err := k.Check(ctx)
		cancel()
		if err != nil && !errors.Is(err, kafkaconf.ErrUnreachable) {
			return nil, err
		}
	}
	kopts = append(kopts, sec...)
	kopts = append(kopts, c.kgoOpts...)
	kcl, err := kgo.NewClient(kopts...)
	if err != nil {
		return nil, fmt.Errorf("cannot create kafka client: %w", err)
	}
	cl := &Client{
		cfg:       c,
		kcl:       kcl,
		queue:     make(chan item, c.queueSize),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
		closeDone: make(chan struct{}),
	}
	cl.abort, cl.cancelAbort = context.WithCancel(context.Background())
	go cl.run()
	return cl, nil
}

// Record queues a finished call and returns at once. It reports whether the
// call was queued; when the queue is full (or the client is closed) the
// call is dropped and counted. The caller must not modify call's slices or
// maps afterwards.
func (c *Client) Record(call *Call) bool {
	return c.enqueue(call, nil)
}

func (c *Client) enqueue(call *Call, ex *exchange) bool {
	c.mu.RLock()
	if c.closing {
		c.mu.RUnlock()
		c.dropped.Add(1)
		return false
	}
	select {
	case c.queue <- item{call: *call, ex: ex}:
		c.mu.RUnlock()
		c.queued.Add(1)
		return true
	default:
		c.mu.RUnlock()
		c.dropped.Add(1)
		return false
	}
}

// RecordWait queues a finished call, waiting for room while the queue is
// full. Applications should use Record; RecordWait is for tools (such as
// loadgen) that must not lose a call.
func (c *Client) RecordWait(ctx context.Context, call *Call) error {
	for {
		c.mu.RLock()
		if c.closing {
			c.mu.RUnlock()
			return ErrClosed
		}
		select {
		case c.queue <- item{call: *call}:
			c.mu.RUnlock()
			c.queued.Add(1)
			return nil
		default:
		}
		c.mu.RUnlock()
		t := time.NewTimer(time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Stats returns the counters.
func (c *Client) Stats() Stats {
	return Stats{
		Queued: c.queued.Load(), Dropped: c.dropped.Load(), Sent: c.sent.Load(),
		Failed: c.failed.Load(), SampledOut: c.sampledOut.Load(), EncodeErrors: c.encodeErrors.Load(),
	}
}

// Close stops accepting calls, produces everything queued and waits for the
// broker's acknowledgements until ctx ends. When ctx ends first, the calls
// still queued and the events not yet acknowledged are abandoned and counted
// as failed (some of those may still reach the broker). Either way Stats is
// final when Close returns. Close reports an error when an event it waited
// for was not delivered. Later calls wait for the first to finish (or for
// their own ctx) and return nil.
func (c *Client) Close(ctx context.Context) error {
	c.mu.Lock()
	already := c.closing
	c.closing = true
	c.mu.Unlock()
	if already {
		select {
		case <-c.closeDone:
		case <-ctx.Done():
		}
		return nil
	}
	defer close(c.closeDone)
	failedBefore := c.failed.Load()
	close(c.stop) // only the first Close gets here
	select {
	case <-c.done:
	case <-ctx.Done():
	}
	err := ctx.Err()
	if err == nil {
		// Flush returns once every buffered record's promise has fired.
		err = c.kcl.Flush(ctx)
	}
	if err != nil {
		// Out of time: run stops producing and counts what is still
		// queued as failed; franz-go fails what it buffers. Close fails
		// whatever is left, and settle counts the promises it has not
		// fired yet, so nothing is counted after Close returns.
		c.cancelAbort()
		<-c.done
		c.kcl.UnsafeAbortBufferedRecords()
	}
	c.kcl.Close()
	lastErr := c.settle()
	c.cancelAbort()
	n := c.failed.Load() - failedBefore
	switch {
	case err != nil:
		return fmt.Errorf("cannot deliver %d sightline events before Close's context ended: %w", n, err)
	case n > 0 && lastErr != nil:
		return fmt.Errorf("cannot deliver %d sightline events: %w", n, lastErr)
	case n > 0:
		return fmt.Errorf("cannot deliver %d sightline events", n)
	}
	return nil
}

// settle counts the records whose promise has not fired as failed and
// makes later promises no-ops. It returns the last produce error.
func (c *Client) settle() error {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	c.failed.Add(c.inFlight)
	c.inFlight = 0
	c.settled = true
	return c.lastErr
}

func (c *Client) run() {
	defer close(c.done)
	for {
		select {
		case it := <-c.queue:
			c.process(&it)
		case <-c.stop:
			// Senders are excluded by now (closing was set under the
			// lock), so what is in the channel is all there will be.
			for {
				select {
				case it := <-c.queue:
					if c.abort.Err() != nil {
						c.failed.Add(1) // Close ran out of time
						continue
					}
					c.process(&it)
				default:
					return
				}
			}
		}
	}
}

func (c *Client) process(it *item) {
	id, err := uuid.NewV7()
	if err != nil {
		c.encodeErrors.Add(1)
		return
	}
	if c.cfg.sampleRate < 1 && !keep(id, c.cfg.sampleRate) {
		c.sampledOut.Add(1)
		return
	}
	// Sampled out calls are dropped before their captured exchange is
	// parsed: the parse is most of a transport call's cost.
	if it.ex != nil {
		it.ex.parse(&it.call)
	}
	b, err := c.encode(&it.call, id.String())
	if err != nil {
		c.encodeErrors.Add(1)
		c.report(err)
		return
	}
	c.pmu.Lock()
	c.inFlight++
	c.pmu.Unlock()
	c.kcl.Produce(c.abort, &kgo.Record{Value: b}, c.onProduced)
}

// keep decides sampling from the event id, so the decision can be
// recomputed from a stored event. The top two bits of byte 8 are the UUID
// variant (always 10): the fraction comes from the 62 random bits after
// them.
func keep(id uuid.UUID, rate float64) bool {
	return float64(binary.BigEndian.Uint64(id[8:])<<2>>11)/float64(1<<53) < rate
}

// encode turns a call into the record's value: the event is built, redacted,
// cut to the limits, validated and marshalled.
func (c *Client) encode(call *Call, id string) ([]byte, error) {
	ev := c.toEvent(call, id)
	if c.cfg.redactor != nil {
		c.cfg.redactor.Redact(ev)
	}
	truncate(ev, c.cfg.maxContentBytes)
	if err := schemas.Validate(ev); err != nil {
		return nil, fmt.Errorf("sightline sdk: dropping an invalid event: %w", err)
	}
	b, err := proto.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("cannot encode sightline event: %w", err)
	}
	return b, nil
}

// onProduced is the promise of every record; franz-go calls it on its own
// goroutine, which may be after Close has settled the record.
func (c *Client) onProduced(_ *kgo.Record, err error) {
	c.pmu.Lock()
	if c.settled {
		c.pmu.Unlock()
		return
	}
	c.inFlight--
	if err != nil {
		c.failed.Add(1)
		c.lastErr = err
	} else {
		c.sent.Add(1)
	}
	c.pmu.Unlock()
	if err != nil {
		c.report(err)
	}
}

func (c *Client) report(err error) {
	if c.cfg.onError != nil {
		c.cfg.onError(err)
	}
}

func (c *Client) toEvent(call *Call, id string) *eventpb.Event {
	ev := &eventpb.Event{
		SchemaVersion:  schemas.CurrentVersion,
		EventId:        id,
		Tenant:         c.cfg.tenant,
		App:            c.cfg.app,
		Environment:    c.cfg.environment,
		Ts:             timestamppb.New(call.Start),
		DurationMs:     float64(call.Duration) / float64(time.Millisecond),
		Provider:       call.Provider,
		Operation:      call.Operation,
		RequestModel:   call.RequestModel,
		Model:          call.Model,
		InputTokens:    call.InputTokens,
		OutputTokens:   call.OutputTokens,
		CostUsd:        call.CostUSD,
		TraceId:        call.TraceID,
		SpanId:         call.SpanID,
		ConversationId: call.ConversationID,
		UserId:         call.UserID,
		Variant:        call.Variant,
		Reference:      call.Reference,
		Embedding:      call.Embedding,
		ResponseId:     call.ResponseID,
		Sdk:            &eventpb.SDK{Name: c.cfg.sdkName, Version: Version},
	}
	if call.Start.IsZero() {
		ev.Ts = timestamppb.Now()
	}
	if call.Duration < 0 {
		ev.DurationMs = 0
	}
	if call.TTFT > 0 {
		t := float64(call.TTFT) / float64(time.Millisecond)
		ev.TtftMs = &t
	}
	if ev.Operation == "" {
		ev.Operation = "chat"
	}
	if ev.Model == "" && ev.RequestModel == "" {
		ev.Model = "unknown"
	}
	if call.InputTokens < 0 {
		ev.InputTokens = 0
	}
	if call.OutputTokens < 0 {
		ev.OutputTokens = 0
	}
	if !(call.CostUSD >= 0) { // also NaN
		ev.CostUsd = 0
	}
	if call.ErrorType != "" || call.ErrorMessage != "" {
		ev.Error = &eventpb.Error{Type: call.ErrorType, Message: call.ErrorMessage}
	}
	if call.PromptTemplateID != "" || call.PromptTemplateVersion != "" {
		ev.PromptTemplate = &eventpb.PromptTemplate{Id: call.PromptTemplateID, Version: call.PromptTemplateVersion}
	}
	ev.Prompt = make([]*eventpb.Message, len(call.Prompt))
	for i, m := range call.Prompt {
		ev.Prompt[i] = &eventpb.Message{Role: m.Role, Content: m.Content}
	}
	ev.Completion = make([]*eventpb.Message, len(call.Completion))
	for i, m := range call.Completion {
		ev.Completion[i] = &eventpb.Message{Role: m.Role, Content: m.Content, FinishReason: m.FinishReason}
	}
	if len(call.Context) > 0 {
		ev.Context = append([]string(nil), call.Context...)
	}
	if len(call.Segments) > 0 {
		ev.Segments = make(map[string]string, len(call.Segments))
		for k, v := range call.Segments {
			ev.Segments[k] = v
		}
	}
	if len(call.Attributes) > 0 {
		ev.Attributes = make(map[string]string, len(call.Attributes))
		for k, v := range call.Attributes {
			ev.Attributes[k] = v
		}
	}
	return ev
}

func truncate(ev *eventpb.Event, max int) {
	cut := false
	cutS := func(s *string) {
		if len(*s) > max {
			*s, cut = schemas.CutUTF8(*s, max), true
		}
	}
	for _, m := range ev.Prompt {
		cutS(&m.Content)
	}
	for _, m := range ev.Completion {
		cutS(&m.Content)
	}
	for i := range ev.Context {
		cutS(&ev.Context[i])
	}
	cutS(&ev.Reference)
	if ev.Error != nil {
		cutS(&ev.Error.Message)
	}
	// Labels over the schema limit would get the event rejected: cut them.
	if schemas.CutLabels(ev) {
		cut = true
	}
	if schemas.Truncate(ev) || cut {
		ev.Truncated = true
	}
}

func errorTypeName(err error) string {
	if t, ok := err.(interface{ ErrorType() string }); ok {
		return t.ErrorType()
	}
	return fmt.Sprintf("%T", err)
}
