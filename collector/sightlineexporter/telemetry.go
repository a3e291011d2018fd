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
	numDropReasons
)

var dropNames = [numDropReasons]string{"missing_model", "invalid_event", "too_large"}

// telemetry counts what the exporter did. The counters are kept both as
// atomics (Stats, for tests and logs) and as OpenTelemetry instruments on
// the component's MeterProvider, which the collector exposes on its
// internal metrics endpoint with a _total suffix. Labels are from the
// fixed sets above.
type telemetry struct {
	produced, dropped, issues metric.Int64Counter
	issueOpts                 [numIssues]metric.AddOption
	dropOpts                  [numDropReasons]metric.AddOption

	producedN atomic.Int64
	issueN    [numIssues]atomic.Int64
	dropN     [numDropReasons]atomic.Int64
}

func newTelemetry(mp metric.MeterProvider) (*telemetry, error) {
	t := &telemetry{}
	if mp == nil {
		return t, nil
	}
	m := mp.Meter("github.com/sightline-dev/sightline/collector/sightlineexporter")
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
	return s
}
