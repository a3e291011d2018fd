// Package config loads the sightline YAML configuration file. Unknown keys
// are errors that name the key, so a typo never silently falls back to a
// default. Flags override file values; defaults fill the rest.
package config

import (
	"bytes"
	"fmt"
	"os"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/sightline-dev/sightline/internal/auth"
	"github.com/sightline-dev/sightline/internal/broker"
	"github.com/sightline-dev/sightline/internal/console"
	"github.com/sightline-dev/sightline/internal/lifecycle"
	"github.com/sightline-dev/sightline/internal/server"
	"github.com/sightline-dev/sightline/processors/aggregate"
	"github.com/sightline-dev/sightline/processors/alert"
	"github.com/sightline-dev/sightline/processors/detectors/registry"
	"github.com/sightline-dev/sightline/processors/score"
	"github.com/sightline-dev/sightline/processors/window"
	"github.com/sightline-dev/sightline/schemas/kafkaconf"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
	"github.com/sightline-dev/sightline/sinks/otlp"
)

// Config is the whole file.
type Config struct {
	DataDir    string           `yaml:"data_dir"`
	HTTPAddr   string           `yaml:"http_addr"`
	Kafka      KafkaConfig      `yaml:"kafka"`
	ClickHouse ClickHouseConfig `yaml:"clickhouse"`
	// Score is the score stage's section (processors/score owns its
	// keys, defaults and validation).
	Score score.Config `yaml:"score"`
	// Detectors configures each detector by name (see registry.Names);
	// every detector runs with its defaults unless disabled here.
	Detectors map[string]registry.Settings `yaml:"detectors"`
	// Aggregate tunes windows and baselines of the aggregate stage
	// (processors/aggregate owns its keys, defaults and validation).
	Aggregate aggregate.Config `yaml:"aggregate"`
	// Window configures partials and signal statistics.
	Window window.Config `yaml:"window"`
	// Alerts holds the alert rules and their actions; the aggregate stage
	// evaluates them as windows close.
	Alerts alert.Config `yaml:"alerts"`
	// OTLP runs the sightline-collector's receiver and exporter inside
	// `sightline up` (off unless enabled here or with --otlp).
	OTLP OTLPConfig `yaml:"otlp"`
	// Evaluations sends every scored event's scores back to
	// OpenTelemetry as gen_ai.evaluation.result log events (off unless
	// otlp_endpoint is set).
	Evaluations otlp.Config `yaml:"evaluations"`
	// Ingest bounds POST /v1/events (body size, events per request,
	// requests and bytes in flight); zero keys take the defaults in
	// server.DefaultIngestConfig.
	Ingest server.IngestConfig `yaml:"ingest"`
	// Console is the web UI served at / (internal/console).
	Console console.Config `yaml:"console"`
	// Retention is per tenant (internal/lifecycle owns its keys, defaults and validation).
	Retention lifecycle.Config `yaml:"retention"`
	// Auth: API keys on every surface, tenant handling, rate limits,
	// --insecure (internal/auth owns its keys, defaults and validation).
	Auth auth.Config `yaml:"auth"`
	// TLS serves the HTTP server and the OTLP receivers over TLS
	// (certificate reloaded on change and SIGHUP).
	TLS auth.TLSConfig `yaml:"tls"`
	// Reads bounds the concurrent expensive reads (read API, Console).
	Reads server.ReadConfig `yaml:"reads"`
}

// OTLPConfig: where `sightline up --otlp` accepts OTLP, as
// sightline-collector does with its default configuration.
type OTLPConfig struct {
	Enabled  bool   `yaml:"enabled"`
	GRPCAddr string `yaml:"grpc_addr"`
	HTTPAddr string `yaml:"http_addr"`
	// MetricsAddr serves the collector's own metrics (exported, dropped
	// and unmappable spans).
	MetricsAddr string `yaml:"metrics_addr"`
	// Tenant is the default tenant of events from OTLP.
	Tenant string `yaml:"tenant"`
}

// KafkaConfig: empty Brokers means the embedded broker.
type KafkaConfig struct {
	// Config holds brokers, tls and sasl, the shape the SDK and the
	// collector exporter read too (schemas/kafkaconf). tls and sasl apply
	// to kafka.brokers; the embedded broker is plaintext on loopback.
	kafkaconf.Config `yaml:",inline"`
	EmbeddedAddr     string `yaml:"embedded_addr"`
	Partitions       int32  `yaml:"partitions"`
	// Retention and RetentionBytes bound the embedded broker's log (real
	// Kafka keeps its own topic settings): records produced longer ago
	// than Retention (default 24h), and the oldest records past
	// RetentionBytes per partition (default 256 MiB), are deleted whether
	// the score stage has read them or not. The stage is seconds behind
	// in normal operation; a stage stopped, or ClickHouse down, for longer
	// than Retention (or for longer than RetentionBytes takes to fill)
	// loses the oldest unread events. Negative disables either bound.
	Retention      time.Duration `yaml:"retention"`
	RetentionBytes int64         `yaml:"retention_bytes"`
}

// ClickHouseConfig is the connection (sinks/clickhouse owns its keys,
// defaults and validation: addr, database, username, password,
// password_env, tls, cluster, ...) plus the ports of the local server
// `sightline up` runs when addr is empty.
type ClickHouseConfig struct {
	chsink.Options `yaml:",inline"`
	LocalPort      int `yaml:"local_port"`
	LocalHTTP      int `yaml:"local_http_port"`
}

// Default returns the configuration `sightline up` runs with when given
// nothing.
func Default() Config {
	return Config{
		DataDir:  "./sightline-data",
		HTTPAddr: "127.0.0.1:8088",
		Kafka: KafkaConfig{
			EmbeddedAddr: "127.0.0.1:19092", Partitions: 4,
			Retention: broker.DefaultRetention, RetentionBytes: broker.DefaultRetentionBytes,
		},
		ClickHouse: ClickHouseConfig{
			Options: chsink.DefaultOptions(), LocalPort: 19000, LocalHTTP: 18123,
		},
		Score:     score.DefaultConfig(),
		Aggregate: aggregate.DefaultConfig(),
		Window:    window.DefaultConfig(),
		OTLP:      OTLPConfig{GRPCAddr: "127.0.0.1:4317", HTTPAddr: "127.0.0.1:4318", MetricsAddr: "127.0.0.1:8889"},
		Console:   console.DefaultConfig(),
		Auth:      auth.DefaultConfig(),
		Reads:     server.DefaultReadConfig(),
	}
}

// Load reads path (if non-empty) over the defaults.
func Load(path string) (Config, error) {
	c := Default()
	if path == "" {
		return c, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("cannot read config file: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && err.Error() != "EOF" {
		return c, fmt.Errorf("cannot parse config file %s: %w", path, err)
	}
	// The windows count the outcomes the detectors declare, decided by
	// detectors.<name>.threshold: one key per decision.
	c.Window.Outcomes = window.OutcomesOf(registry.Outputs(c.Detectors))
	err = c.Validate() // before the return: it may fill defaults into c
	return c, err
}

// Validate checks the values, naming the YAML key of anything wrong.
func (c *Config) Validate() error {
	switch {
	case c.DataDir == "":
		return fmt.Errorf("config: data_dir must not be empty")
	case c.HTTPAddr == "":
		return fmt.Errorf("config: http_addr must not be empty")
	case c.Kafka.Partitions < 1:
		return fmt.Errorf("config: kafka.partitions must be at least 1")
	case c.Kafka.Retention >= 0 && c.Kafka.Retention < time.Minute:
		return fmt.Errorf("config: kafka.retention must be at least 1m (or negative to keep records regardless of age)")
	case c.Kafka.RetentionBytes >= 0 && c.Kafka.RetentionBytes < 16<<20:
		return fmt.Errorf("config: kafka.retention_bytes must be at least 16777216, the largest record batch (or negative for no size bound)")
	case c.OTLP.Enabled && (c.OTLP.GRPCAddr == "" || c.OTLP.HTTPAddr == "" || c.OTLP.MetricsAddr == ""):
		return fmt.Errorf("config: otlp.grpc_addr, otlp.http_addr and otlp.metrics_addr must not be empty when otlp.enabled")
	}
	if err := c.Kafka.Config.Validate(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if err := c.ClickHouse.Validate(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if c.ClickHouse.Cluster != "" && len(c.ClickHouse.Addrs) == 0 {
		return fmt.Errorf("config: clickhouse.cluster needs clickhouse.addr (sightline runs a single local server, not a cluster)")
	}
	if err := c.Score.Validate(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if err := c.Aggregate.Validate(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if err := c.Window.Validate(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if err := c.Ingest.Validate(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if err := c.Console.Validate(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	for _, v := range []interface{ Validate() error }{c.Auth, c.TLS, c.Reads} {
		if err := v.Validate(); err != nil {
			return fmt.Errorf("config: %w", err)
		}
	}
	if len(c.Alerts.Rules) > 0 || len(c.Alerts.Actions) > 0 {
		if err := c.Alerts.Validate(); err != nil {
			return fmt.Errorf("config: %w", err)
		}
	}
	if err := registry.Validate(c.Detectors); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if c.Evaluations.Endpoint != "" {
		if err := c.Evaluations.Validate(); err != nil {
			return fmt.Errorf("config: %w", err)
		}
	}
	return nil
}
