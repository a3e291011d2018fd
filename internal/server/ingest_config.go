package server

import (
	"fmt"
	"time"
)

// IngestConfig bounds POST /v1/events: the ingest section of the config
// file. A zero field takes its default from DefaultIngestConfig, so a zero
// IngestConfig is the default one.
type IngestConfig struct {
	// MaxBodyBytes: a larger body is refused with 413 (default 4 MiB).
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// MaxEventsPerRequest: array elements or JSON lines in one request;
	// a request with more is refused with 413 at the first one past the
	// limit (default 10000).
	MaxEventsPerRequest int `yaml:"max_events_per_request"`
	// MaxConcurrentRequests: ingest requests served at once; one more is
	// refused at once with 429 (default 16).
	MaxConcurrentRequests int `yaml:"max_concurrent_requests"`
	// MaxInflightBytes bounds, over all requests, the body bytes reserved
	// by requests being read and decoded plus those of events produced
	// but not yet acknowledged by the broker (default 64 MiB; at least
	// max_body_bytes). A request reserves its Content-Length (or
	// max_body_bytes when the length is not given) before reading.
	MaxInflightBytes int64 `yaml:"max_inflight_bytes"`
	// QueueTimeout: how long a request waits for its reservation under
	// max_inflight_bytes before it is refused: 503 when events waiting
	// for the broker hold most of the bytes, 429 otherwise (default 5s).
	QueueTimeout time.Duration `yaml:"queue_timeout"`
	// AckTimeout: how long a request whose events are with the broker
	// waits without any acknowledgement before it answers 503 (default
	// 30s).
	AckTimeout time.Duration `yaml:"ack_timeout"`
}

// DefaultIngestConfig is the configuration the zero IngestConfig stands
// for.
func DefaultIngestConfig() IngestConfig {
	return IngestConfig{
		MaxBodyBytes:          4 << 20,
		MaxEventsPerRequest:   10000,
		MaxConcurrentRequests: 16,
		MaxInflightBytes:      64 << 20,
		QueueTimeout:          5 * time.Second,
		AckTimeout:            30 * time.Second,
	}
}

// withDefaults fills the zero fields.
func (c IngestConfig) withDefaults() IngestConfig {
	d := DefaultIngestConfig()
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = d.MaxBodyBytes
	}
	if c.MaxEventsPerRequest == 0 {
		c.MaxEventsPerRequest = d.MaxEventsPerRequest
	}
	if c.MaxConcurrentRequests == 0 {
		c.MaxConcurrentRequests = d.MaxConcurrentRequests
	}
	if c.MaxInflightBytes == 0 {
		c.MaxInflightBytes = max(d.MaxInflightBytes, c.MaxBodyBytes)
	}
	if c.QueueTimeout == 0 {
		c.QueueTimeout = d.QueueTimeout
	}
	if c.AckTimeout == 0 {
		c.AckTimeout = d.AckTimeout
	}
	return c
}

// Validate checks the values (zero ones as their defaults), naming the
// YAML key of anything wrong.
func (c IngestConfig) Validate() error {
	c = c.withDefaults()
	switch {
	case c.MaxBodyBytes < 1:
		return fmt.Errorf("ingest.max_body_bytes must be positive")
	case c.MaxEventsPerRequest < 1:
		return fmt.Errorf("ingest.max_events_per_request must be positive")
	case c.MaxConcurrentRequests < 1:
		return fmt.Errorf("ingest.max_concurrent_requests must be positive")
	case c.MaxInflightBytes < c.MaxBodyBytes:
		// Otherwise a body of the largest allowed size could never be
		// taken.
		return fmt.Errorf("ingest.max_inflight_bytes (%d) must be at least ingest.max_body_bytes (%d)", c.MaxInflightBytes, c.MaxBodyBytes)
	case c.QueueTimeout < 0:
		return fmt.Errorf("ingest.queue_timeout must not be negative")
	case c.AckTimeout < 0:
		return fmt.Errorf("ingest.ack_timeout must not be negative")
	}
	return nil
}
