package score

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sightline-dev/sightline/internal/broker"
	"github.com/sightline-dev/sightline/processors/detector"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

// Config of the score stage. Zero values take the defaults.
type Config struct {
	Brokers  []string // required
	Group    string   // consumer group, default "sightline-score"
	Topic    string   // default sightline.events
	DLQTopic string   // default sightline.dlq
	// BatchSize is the most events inserted in one ClickHouse batch
	// (default 5000).
	BatchSize int
	// FlushInterval is the longest an event waits in a batch (default 1s).
	FlushInterval time.Duration
	// RetryMin and RetryMax bound the exponential backoff of ClickHouse and
	// DLQ retries (defaults 100ms and 10s). Retries never give up while the
	// stage runs: skipping would lose events.
	RetryMin, RetryMax time.Duration
	// SessionTimeout is the consumer group session timeout (default 45s):
	// how long a crashed member keeps its partitions before the group
	// rebalances them to the others.
	SessionTimeout time.Duration
	// TransactionalID identifies this member's Kafka transactions (default
	// the group name plus a random suffix; KIP-447 fencing by group
	// generation keeps zombies out).
	TransactionalID string
	// InstanceID, when set, makes the member a static group member
	// (group.instance.id): restarted within SessionTimeout it keeps its
	// partitions without a rebalance. Unique per instance.
	InstanceID string
	// TransactionTimeout bounds a transaction (default 60s); it must cover
	// a batch's ClickHouse insert including retries, else the broker
	// aborts it and the batch is consumed again.
	TransactionTimeout time.Duration
	// Partials, when set, collects per-window partial aggregates of the
	// scored events; they are produced in the batch's transaction,
	// followed by a progress report (window.Progress) to every partition
	// of ProgressTopic.
	Partials Partials
	// ProgressTopic receives the progress reports (default
	// sightline.partials, where the partials go).
	ProgressTopic string
	// ProgressInterval is how often the end offsets of the events topic
	// are listed (lag metrics, progress reports) and how often an idle
	// stage reports progress (default 1s).
	ProgressInterval time.Duration
	// Detectors score every event (processors/registry builds the list);
	// none means features only.
	Detectors []detector.Detector
	// OnCommitted, when set, is given each batch's stored events and their
	// scores after the batch's transaction committed (so never twice for
	// a replayed batch). It must not block or keep rows: the stage reuses
	// them (sinks/otlp's Exporter.Add converts and queues).
	OnCommitted func(rows []chsink.EventRow)
	// KafkaOpts are extra franz-go options (TLS, SASL, ...).
	KafkaOpts []kgo.Opt
	Logger    *slog.Logger
}

func (c *Config) setDefaults() {
	if c.Group == "" {
		c.Group = "sightline-score"
	}
	if c.Topic == "" {
		c.Topic = broker.TopicEvents
	}
	if c.DLQTopic == "" {
		c.DLQTopic = broker.TopicDLQ
	}
	if c.ProgressTopic == "" {
		c.ProgressTopic = broker.TopicPartials
	}
	if c.ProgressInterval == 0 {
		c.ProgressInterval = time.Second
	}
	if c.BatchSize == 0 {
		c.BatchSize = 5000
	}
	if c.FlushInterval == 0 {
		c.FlushInterval = time.Second
	}
	if c.RetryMin == 0 {
		c.RetryMin = 100 * time.Millisecond
	}
	if c.RetryMax == 0 {
		c.RetryMax = 10 * time.Second
	}
	if c.TransactionalID == "" {
		var b [6]byte
		_, _ = rand.Read(b[:])
		c.TransactionalID = c.Group + "-" + hex.EncodeToString(b[:])
	}
	if c.TransactionTimeout == 0 {
		c.TransactionTimeout = 60 * time.Second
	}
	if c.SessionTimeout == 0 {
		c.SessionTimeout = 45 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

func (c *Config) validate() error {
	switch {
	case len(c.Brokers) == 0:
		return fmt.Errorf("invalid score config: kafka.brokers is empty")
	case c.BatchSize < 1 || c.BatchSize > 1_000_000:
		return fmt.Errorf("invalid score config: score.batch_size must be in [1, 1000000], got %d", c.BatchSize)
	case c.FlushInterval < time.Millisecond:
		return fmt.Errorf("invalid score config: score.flush_interval must be at least 1ms")
	case c.RetryMax < c.RetryMin:
		return fmt.Errorf("invalid score config: score.retry_max must not be below score.retry_min")
	}
	return nil
}

// Partials collects the window partial aggregates of a batch. The stage is
// its only user (one goroutine).
type Partials interface {
	// Add folds one stored event into its key's window partial.
	Add(row *chsink.EventRow)
	// Records encodes the batch's partials as records for the partials
	// topic; the batch's state stays until Reset.
	Records() ([]*kgo.Record, error)
	// Reset forgets the batch's partials.
	Reset()
}
