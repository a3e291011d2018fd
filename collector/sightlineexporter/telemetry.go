package sightlineexporter

import (
	"context"
	"fmt"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// issue is a problem with one field of a call that the exporter worked
// around: the event is still produced.
type issue int

const (
	issueTokenCountType   issue = iota // token count sent as a string or fraction
	issueInvalidMessages               // message attribute not the expected JSON: kept as raw text
	issueIndexOutOfRange               // gen_ai.prompt.N.* with N beyond the message limit
	issueMissingService                // no service.name: app set to unknown_service
	issueTruncated                     // content cut to the size limits
	issueInvalidDocuments              // retrieval documents not the expected JSON
	numIssues
)

var issueNames = [numIssues]string{"token_count_type", "invalid_messages", "index_out_of_range",
	"missing_service_name", "truncated", "invalid_documents"}

// dropReason is why a recognized call produced no event.
type dropReason int

const (
	dropMissingModel dropReason = iota // neither request nor response model
	dropInvalidEvent                   // rejected by schemas.Validate
	dropTooLarge                       // over max_event_bytes even with content cut
	dropShutdown                       // held for joining, not produced at shutdown (brokers down)
	numDropReasons
)

var dropNames = [numDropReasons]string{"missing_model", "invalid_event", "too_large", "shutdown"}

// joinOutcome is what became of a call that waited to be joined (see
// joiner), or of join input that could not be used.
type joinOutcome int

const (
	joinMerged       joinOutcome = iota // span and log events merged into one call
	joinSpanOnly                        // the span waited; no log events came
	joinLogsOnly                        // log events waited; no span came: a call of its own
	joinRepeatedSpan                    // a span whose call was already produced or is waiting: not produced again
	joinLateEvents                      // log records whose call was already produced: their content is not in it
	joinPendingFull                     // a call produced (or not held) early because join.max_pending calls were waiting
	numJoinOutcomes
)

var joinNames = [numJoinOutcomes]string{"merged", "span_only", "logs_only", "repeated_span", "late_log_events", "pending_full"}

// telemetry counts what the exporter did. The counters are kept both as
// atomics (Stats, for tests and logs) and as OpenTelemetry instruments on
// the component's MeterProvider, which the collector exposes on its
// internal metrics endpoint (under these names, without a _total suffix,
// as collector v0.165's Prometheus exporter writes them). Labels are from the
// fixed sets above.
type telemetry struct {
	produced, dropped, issues metric.Int64Counter
	joinCalls, late, full     metric.Int64Counter
	issueOpts                 [numIssues]metric.AddOption
	dropOpts                  [numDropReasons]metric.AddOption
	joinOpts                  [numJoinOutcomes]metric.AddOption

	meter metric.Meter // nil without a MeterProvider

	producedN atomic.Int64
	issueN    [numIssues]atomic.Int64
	dropN     [numDropReasons]atomic.Int64
	joinN     [numJoinOutcomes]atomic.Int64
}

func newTelemetry(mp metric.MeterProvider) (*telemetry, error) {
	t := &telemetry{}
	if mp == nil {
		return t, nil
	}
	m := mp.Meter("github.com/sightline-dev/sightline/collector/sightlineexporter")
	t.meter = m
	var err error
	if t.produced, err = m.Int64Counter("sightline_collector_events_produced",
		metric.WithDescription("Sightline events acknowledged by Kafka."), metric.WithUnit("{event}")); err != nil {
		return nil, fmt.Errorf("cannot create metric: %w", err)
	}
	if t.dropped, err = m.Int64Counter("sightline_collector_events_dropped",
		metric.WithDescription("Recognized LLM calls that produced no event, by reason."), metric.WithUnit("{event}")); err != nil {
		return nil, fmt.Errorf("cannot create metric: %w", err)
	}
	if t.issues, err = m.Int64Counter("sightline_collector_mapping_issues",
		metric.WithDescription("Fields of LLM calls that could not be mapped as sent and were worked around, by issue."),
		metric.WithUnit("{issue}")); err != nil {
		return nil, fmt.Errorf("cannot create metric: %w", err)
	}
	if t.joinCalls, err = m.Int64Counter("sightline_collector_join_calls",
		metric.WithDescription("Calls that waited for their span or log events, by outcome (merged, span_only, logs_only, repeated_span)."),
		metric.WithUnit("{call}")); err != nil {
		return nil, fmt.Errorf("cannot create metric: %w", err)
	}
	if t.late, err = m.Int64Counter("sightline_collector_join_late_events",
		metric.WithDescription("GenAI log records whose call had already been produced: their content is not in it (raise join.wait)."),
		metric.WithUnit("{record}")); err != nil {
		return nil, fmt.Errorf("cannot create metric: %w", err)
	}
	if t.full, err = m.Int64Counter("sightline_collector_join_pending_full",
		metric.WithDescription("Calls produced before their join wait ended, or not held, because join.max_pending calls were waiting."),
		metric.WithUnit("{call}")); err != nil {
		return nil, fmt.Errorf("cannot create metric: %w", err)
	}
	for i := range t.joinOpts {
		t.joinOpts[i] = metric.WithAttributeSet(attribute.NewSet(attribute.String("outcome", joinNames[i])))
	}
	for i := range t.issueOpts {
		t.issueOpts[i] = metric.WithAttributeSet(attribute.NewSet(attribute.String("issue", issueNames[i])))
	}
	for i := range t.dropOpts {
		t.dropOpts[i] = metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", dropNames[i])))
	}
	return t, nil
}

func (t *telemetry) issue(i issue) {
	t.issueN[i].Add(1)
	if t.issues != nil {
		t.issues.Add(context.Background(), 1, t.issueOpts[i])
	}
}

func (t *telemetry) drop(r dropReason) {
	t.dropN[r].Add(1)
	if t.dropped != nil {
		t.dropped.Add(context.Background(), 1, t.dropOpts[r])
	}
}

// observeJoin exposes how many calls wait to be joined and how many wait
// to be produced, until the returned function is called.
func (t *telemetry) observeJoin(pending func() (waiting, ready int)) (func(), error) {
	if t.meter == nil {
		return func() {}, nil
	}
	g, err := t.meter.Int64ObservableGauge("sightline_collector_join_waiting_calls",
		metric.WithDescription("Calls waiting for their span or log events (state=waiting), or waiting to be produced (state=ready)."),
		metric.WithUnit("{call}"))
	if err != nil {
		return nil, fmt.Errorf("cannot create metric: %w", err)
	}
	waitingOpt := metric.WithAttributeSet(attribute.NewSet(attribute.String("state", "waiting")))
	readyOpt := metric.WithAttributeSet(attribute.NewSet(attribute.String("state", "ready")))
	reg, err := t.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		w, r := pending()
		o.ObserveInt64(g, int64(w), waitingOpt)
		o.ObserveInt64(g, int64(r), readyOpt)
		return nil
	}, g)
	if err != nil {
		return nil, fmt.Errorf("cannot register metric callback: %w", err)
	}
	return func() { _ = reg.Unregister() }, nil
}

// dropMany counts n calls dropped for r.
func (t *telemetry) dropMany(r dropReason, n int) {
	if n <= 0 {
		return
	}
	t.dropN[r].Add(int64(n))
	if t.dropped != nil {
		t.dropped.Add(context.Background(), int64(n), t.dropOpts[r])
	}
}

// joined counts n of outcome o.
func (t *telemetry) joined(o joinOutcome, n int) {
	if n <= 0 {
		return
	}
	t.joinN[o].Add(int64(n))
	switch {
	case o == joinLateEvents && t.late != nil:
		t.late.Add(context.Background(), int64(n))
	case o == joinPendingFull && t.full != nil:
		t.full.Add(context.Background(), int64(n))
	case o < joinLateEvents && t.joinCalls != nil:
		t.joinCalls.Add(context.Background(), int64(n), t.joinOpts[o])
	}
}

func (t *telemetry) producedEvents(n int) {
	t.producedN.Add(int64(n))
	if t.produced != nil {
		t.produced.Add(context.Background(), int64(n))
	}
}

// Stats are the exporter's counters since it was created.
type Stats struct {
	Produced int64            `json:"produced"`
	Issues   map[string]int64 `json:"issues"`  // by issue name, non-zero only
	Dropped  map[string]int64 `json:"dropped"` // by reason, non-zero only
	// Join counts what became of calls that waited for their span or log
	// events, by outcome, non-zero only.
	Join map[string]int64 `json:"join,omitempty"`
}

func (t *telemetry) stats() Stats {
	s := Stats{Produced: t.producedN.Load(), Issues: map[string]int64{}, Dropped: map[string]int64{}}
	for i := range t.issueN {
		if n := t.issueN[i].Load(); n > 0 {
			s.Issues[issueNames[i]] = n
		}
	}
	for i := range t.dropN {
		if n := t.dropN[i].Load(); n > 0 {
			s.Dropped[dropNames[i]] = n
		}
	}
	for i := range t.joinN {
		if n := t.joinN[i].Load(); n > 0 {
			if s.Join == nil {
				s.Join = map[string]int64{}
			}
			s.Join[joinNames[i]] = n
		}
	}
	return s
}
