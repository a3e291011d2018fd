package sightlineexporter

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/sightline-dev/sightline/schemas"
	"github.com/sightline-dev/sightline/schemas/kafkaconf"
)

// Defaults the factory's configuration starts from.
const (
	DefaultTopic         = schemas.TopicEvents
	DefaultClientID      = "sightline-collector"
	DefaultCompression   = "lz4"
	DefaultMaxEventBytes = 1_000_000 // Kafka's default message.max.bytes is ~1 MiB
	// DefaultJoinWait: the OpenTelemetry SDKs export spans every 5 s by
	// default (BatchSpanProcessor) and log records every 1 s, and the
	// collector's batch processor adds up to 1 s to each: a call's span
	// and its log events commonly arrive several seconds apart.
	DefaultJoinWait       = 10 * time.Second
	DefaultJoinMaxPending = 10_000
)

// Config of the sightline exporter.
type Config struct {
	exporterhelper.TimeoutConfig `mapstructure:",squash"`
	// QueueBatchConfig is the exporterhelper sending queue (sending_queue).
	QueueBatchConfig configoptional.Optional[exporterhelper.QueueBatchConfig] `mapstructure:"sending_queue"`
	// BackOffConfig retries batches the brokers did not acknowledge. Event
	// ids are derived from trace and span id, so a retried batch
	// deduplicates downstream.
	BackOffConfig configretry.BackOffConfig `mapstructure:"retry_on_failure"`

	// Brokers are the Kafka bootstrap brokers, host:port (required).
	Brokers []string `mapstructure:"brokers"`
	// Topic events are produced to (default sightline.events).
	Topic string `mapstructure:"topic"`
	// ClientID is the Kafka client id (default sightline-collector).
	ClientID string `mapstructure:"client_id"`
	// Compression of produced batches: none, gzip, snappy, lz4 (default) or zstd.
	Compression string `mapstructure:"compression"`
	// TLS to the brokers (enabled, ca_file, cert_file, key_file,
	// server_name, insecure_skip_verify); off by default.
	TLS kafkaconf.TLS `mapstructure:"tls"`
	// SASL authentication (mechanism PLAIN, SCRAM-SHA-256 or
	// SCRAM-SHA-512, username, password or password_env); none by
	// default. Both keep the shape of the kafka: section of Sightline's
	// config file (schemas/kafkaconf).
	SASL kafkaconf.SASL `mapstructure:"sasl"`
	// Tenant stamped on every event unless the resource or span has a
	// sightline.tenant attribute (default empty).
	Tenant string `mapstructure:"tenant"`
	// MaxEventBytes bounds one encoded event (default 1000000, what a
	// default Kafka broker accepts). Content of a larger event is cut until
	// it fits and the event is flagged truncated.
	MaxEventBytes int `mapstructure:"max_event_bytes"`
	// Join merges the GenAI log events of a call (content recorded as
	// gen_ai.client.inference.operation.details or per-message events)
	// into the call's span. It needs this exporter in both the traces and
	// the logs pipeline.
	Join JoinConfig `mapstructure:"join"`
}

// JoinConfig bounds how long and how many calls wait for their other
// half: a span for its log events, log events for their span.
type JoinConfig struct {
	// Wait is how long a call waits for its span or log events before it
	// is produced with what came (default 10s). 0 turns joining off:
	// spans and log events become calls of their own, as they arrive.
	Wait time.Duration `mapstructure:"wait"`
	// MaxPending bounds the calls waiting at once (default 10000); each
	// holds its content in memory. When it is reached, the call that has
	// waited longest is produced at once, and counted
	// (sightline_collector_join_pending_full).
	MaxPending int `mapstructure:"max_pending"`
}

var (
	_ component.Config  = (*Config)(nil)
	_ confmap.Validator = (*Config)(nil)
)

func createDefaultConfig() component.Config {
	queue := exporterhelper.NewDefaultQueueConfig()
	return &Config{
		TimeoutConfig:    exporterhelper.NewDefaultTimeoutConfig(),
		QueueBatchConfig: configoptional.Some(queue),
		BackOffConfig:    configretry.NewDefaultBackOffConfig(),
		Topic:            DefaultTopic,
		ClientID:         DefaultClientID,
		Compression:      DefaultCompression,
		MaxEventBytes:    DefaultMaxEventBytes,
		Join:             JoinConfig{Wait: DefaultJoinWait, MaxPending: DefaultJoinMaxPending},
	}
}

// Validate checks the configuration; errors name the YAML key.
func (c *Config) Validate() error {
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("brokers: at least one broker (host:port) is required"))
	}
	if err := c.kafka().Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := validTopic(c.Topic); err != nil {
		errs = append(errs, fmt.Errorf("topic: %w", err))
	}
	switch c.Compression {
	case "none", "gzip", "snappy", "lz4", "zstd":
	default:
		errs = append(errs, fmt.Errorf("compression: %q is not one of none, gzip, snappy, lz4, zstd", c.Compression))
	}
	if c.MaxEventBytes < 1024 || c.MaxEventBytes > schemas.MaxEncodedBytes {
		errs = append(errs, fmt.Errorf("max_event_bytes: %d is outside [1024, %d]", c.MaxEventBytes, schemas.MaxEncodedBytes))
	}
	if len(c.Tenant) > schemas.MaxLabelBytes {
		errs = append(errs, fmt.Errorf("tenant: longer than %d bytes", schemas.MaxLabelBytes))
	}
	if c.Join.Wait < 0 || c.Join.Wait > maxJoinWait {
		errs = append(errs, fmt.Errorf("join::wait: %s is outside [0, %s]", c.Join.Wait, maxJoinWait))
	}
	if c.Join.Wait > 0 && (c.Join.MaxPending < 1 || c.Join.MaxPending > maxJoinPending) {
		errs = append(errs, fmt.Errorf("join::max_pending: %d is outside [1, %d]", c.Join.MaxPending, maxJoinPending))
	}
	if c.Timeout < 0 {
		errs = append(errs, errors.New("timeout: must not be negative"))
	}
	return errors.Join(errs...)
}

// kafka is the connection in schemas/kafkaconf's shape, its errors
// spelled as the collector's are (sasl::mechanism).
func (c *Config) kafka() *kafkaconf.Config {
	return &kafkaconf.Config{Brokers: c.Brokers, TLS: c.TLS, SASL: c.SASL,
		Key: func(name string) string { return strings.ReplaceAll(name, ".", "::") }}
}

// Bounds of the join settings: a wait of minutes would hold every call's
// content that long, and a million pending calls is gigabytes.
const (
	maxJoinWait    = 5 * time.Minute
	maxJoinPending = 1_000_000
)

// validTopic applies Kafka's topic name rules.
func validTopic(t string) error {
	if t == "" {
		return errors.New("is required")
	}
	if len(t) > 249 || t == "." || t == ".." {
		return fmt.Errorf("%q is not a valid Kafka topic name", t)
	}
	for _, r := range t {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("%q has a character Kafka does not allow in topic names (allowed: a-z A-Z 0-9 . _ -)", t)
		}
	}
	return nil
}
