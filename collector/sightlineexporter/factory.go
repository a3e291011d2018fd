package sightlineexporter

import (
	"context"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
)

// Type is the component type: `sightline` in the collector's configuration.
var Type = component.MustNewType("sightline")

const stability = component.StabilityLevelAlpha

// NewFactory returns the factory of the sightline exporter (traces and
// logs). The traces and logs exporters it creates for one component ID
// share one exporter (Kafka client, join state); each factory value has
// its own set of them.
func NewFactory() exporter.Factory {
	shared := &sharedExporters{byID: map[component.ID]*sightlineExporter{}}
	return exporter.NewFactory(Type, createDefaultConfig,
		exporter.WithTraces(shared.createTraces, stability),
		exporter.WithLogs(shared.createLogs, stability),
	)
}

// sharedExporters holds the exporter of each component ID between its
// creation for the first pipeline and its shutdown with the last, as the
// collector's own shared components do (the OTLP receiver's): the
// collector creates a traces and a logs exporter for an ID in both
// pipelines, and a call's span and its log events must meet in one
// joiner.
type sharedExporters struct {
	mu   sync.Mutex
	byID map[component.ID]*sightlineExporter
}

// acquire returns the exporter of set.ID, created on first use, and
// counts one more pipeline on it. traces and logs say which pipeline.
func (s *sharedExporters) acquire(c *Config, set exporter.Settings, traces bool) (*sightlineExporter, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.byID[set.ID]
	if e != nil {
		e.mu.Lock()
		closing := e.closing
		e.mu.Unlock()
		if closing { // shutting down: the new pipelines get their own
			e = nil
		}
	}
	if e == nil {
		var err error
		if e, err = newExporter(c, set); err != nil {
			return nil, err
		}
		id := set.ID
		e.unshare = func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.byID[id] == e {
				delete(s.byID, id)
			}
		}
		s.byID[id] = e
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.refs++
	if traces {
		e.traces = true
	} else {
		e.logs = true
	}
	return e, nil
}

func (s *sharedExporters) createTraces(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Traces, error) {
	c := cfg.(*Config)
	e, err := s.acquire(c, set, true)
	if err != nil {
		return nil, err
	}
	exp, err := exporterhelper.NewTraces(ctx, set, cfg, e.pushTraces, e.options(c)...)
	if err != nil {
		_ = e.shutdown(ctx) // this pipeline's reference
		return nil, err
	}
	return exp, nil
}

func (s *sharedExporters) createLogs(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Logs, error) {
	c := cfg.(*Config)
	e, err := s.acquire(c, set, false)
	if err != nil {
		return nil, err
	}
	exp, err := exporterhelper.NewLogs(ctx, set, cfg, e.pushLogs, e.options(c)...)
	if err != nil {
		_ = e.shutdown(ctx) // this pipeline's reference
		return nil, err
	}
	return exp, nil
}

// options are one pipeline's exporterhelper options; its shutdown counts
// once, however often it is called.
func (e *sightlineExporter) options(c *Config) []exporterhelper.Option {
	var once sync.Once
	shutdown := func(ctx context.Context) error {
		var err error
		once.Do(func() { err = e.shutdown(ctx) })
		return err
	}
	return []exporterhelper.Option{
		exporterhelper.WithCapabilities(consumer.Capabilities{MutatesData: false}),
		exporterhelper.WithTimeout(c.TimeoutConfig),
		exporterhelper.WithRetry(c.BackOffConfig),
		exporterhelper.WithQueue(c.QueueBatchConfig),
		exporterhelper.WithStart(e.start),
		exporterhelper.WithShutdown(shutdown),
	}
}
