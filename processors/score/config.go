package score

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sightline-dev/sightline/processors/detectors"
	"github.com/sightline-dev/sightline/schemas"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

// Config of the score stage. Zero values take the defaults.
type Config struct {
	Brokers  []string `yaml:"-"`     // required
	Group    string   `yaml:"group"` // consumer group, default "sightline-score"
	Topic    string   `yaml:"-"`     // default sightline.events
	DLQTopic string   `yaml:"-"`     // default sightline.dlq
	// BatchSize is the most events inserted in one ClickHouse batch
	// (default 5000).
	BatchSize int `yaml:"batch_size"`
	// FlushInterval is the longest an event waits in a batch (default 1s).
	FlushInterval time.Duration `yaml:"flush_interval"`
	// RetryMin and RetryMax bound the exponential backoff of ClickHouse and
	// DLQ retries (defaults 100ms and 10s). Retries never give up while the
	// stage runs: skipping would lose events.
	RetryMin time.Duration `yaml:"retry_min"`
	RetryMax time.Duration `yaml:"retry_max"`
	// SessionTimeout is the consumer group session timeout (default 45s):
	// how long a crashed member keeps its partitions before the group
	// rebalances them to the others.
	SessionTimeout time.Duration `yaml:"session_timeout"`
	// TransactionalID identifies this member's Kafka transactions (default
	// the group name plus a random suffix; KIP-447 fencing by group
	// generation keeps zombies out).
	TransactionalID string `yaml:"transactional_id"`
	// InstanceID, when set, makes the member a static group member
	// (group.instance.id): restarted within SessionTimeout it keeps its
	// partitions without a rebalance. Unique per instance.
	InstanceID string `yaml:"instance_id"`
	// TransactionTimeout bounds a transaction (default 60s); it must cover
	// a batch's ClickHouse insert including retries, else the broker
	// aborts it and the batch is consumed again.
	TransactionTimeout time.Duration `yaml:"transaction_timeout"`
	// Partials, when set, collects per-window partial aggregates of the
	// scored events; they are produced in the batch's transaction,
	// followed by a progress report (window.Progress) to every partition
	// of ProgressTopic.
	Partials Partials `yaml:"-"`
	// ProgressTopic receives the progress reports (default
	// sightline.partials, where the partials go).
	ProgressTopic string `yaml:"-"`
	// ProgressInterval is how often the end offsets of the events topic
	// are listed (lag metrics, progress reports) and how often an idle
	// stage reports progress (default 1s).
	ProgressInterval time.Duration `yaml:"progress_interval"`
	// Detectors score every event (processors/detectors/registry builds the list);
	// none means features only.
	Detectors []detectors.Detector `yaml:"-"`
	// OnCommitted, when set, is given each batch's stored events and their
	// scores after the batch's transaction committed (so never twice for
	// a replayed batch). It must not block or keep rows: the stage reuses
	// them (sinks/otlp's Exporter.Add converts and queues).
	OnCommitted func(rows []chsink.EventRow) `yaml:"-"`
	// KafkaOpts are extra franz-go options (TLS, SASL, ...).
	KafkaOpts []kgo.Opt    `yaml:"-"`
	Logger    *slog.Logger `yaml:"-"`
}

// DefaultConfig is the score stage's configuration with every default
// filled in (what `score:` in the config file starts from).
func DefaultConfig() Config {
	var c Config
	c.setDefaults()
	c.Logger = nil
	return c
}

func (c *Config) setDefaults() {
	if c.Group == "" {
		c.Group = "sightline-score"
	}
	if c.Topic == "" {
		c.Topic = schemas.TopicEvents
	}
	if c.DLQTopic == "" {
		c.DLQTopic = schemas.TopicDLQ
	}
	if c.ProgressTopic == "" {
		c.ProgressTopic = schemas.TopicPartials
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

// Validate checks the settings of the config file's score: section
// (defaults filled in, as DefaultConfig has them), naming the key of
// anything wrong.
func (c *Config) Validate() error {
	switch {
	case c.BatchSize < 1 || c.BatchSize > 1_000_000:
		return fmt.Errorf("invalid score config: score.batch_size must be in [1, 1000000], got %d", c.BatchSize)
	case c.FlushInterval < time.Millisecond:
		return fmt.Errorf("invalid score config: score.flush_interval must be at least 1ms")
	case c.RetryMin <= 0 || c.RetryMax < c.RetryMin:
		return fmt.Errorf("invalid score config: score.retry_min must be positive and score.retry_max not below it")
	case c.SessionTimeout <= 0 || c.TransactionTimeout <= 0 || c.ProgressInterval <= 0:
		return fmt.Errorf("invalid score config: score.session_timeout, score.transaction_timeout and score.progress_interval must be positive")
	}
	return nil
}

func (c *Config) validate() error {
	if len(c.Brokers) == 0 {
		return fmt.Errorf("invalid score config: kafka.brokers is empty")
	}
	return c.Validate()
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
