// Package broker runs the embedded Kafka-protocol broker of single-machine
// mode: franz-go's kfake with a data directory, so the log survives
// restarts. Production uses real Kafka or Redpanda through the same client
// code; nothing here is meant to be a cluster.
package broker

import (
	"fmt"
	"os"
	"strconv"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Topics every Sightline deployment uses.
const (
	TopicEvents   = "sightline.events"
	TopicDLQ      = "sightline.dlq"
	TopicPartials = "sightline.partials"
	TopicAlerts   = "sightline.alerts"
)

// DefaultAddr is where `sightline up` listens.
const DefaultAddr = "127.0.0.1:19092"

// Config of the embedded broker.
type Config struct {
	// Port to listen on (default 19092; -1 picks a free one).
	Port int
	// DataDir keeps the log across restarts; empty keeps it in memory.
	DataDir string
	// Partitions of each seeded topic (default 4).
	Partitions int32
	// MaxMessageBytes is the largest record batch accepted (default 16 MiB,
	// above the schema's per-record limit so oversized content reaches the
	// score stage and is truncated there rather than lost at produce).
	MaxMessageBytes int
}

// Broker is a running embedded broker.
type Broker struct {
	c *kfake.Cluster
}

// Start starts the broker and seeds the Sightline topics.
func Start(cfg Config) (*Broker, error) {
	if cfg.Port == 0 {
		cfg.Port = 19092
	}
	if cfg.Port < 0 {
		cfg.Port = 0
	}
	if cfg.Partitions == 0 {
		cfg.Partitions = 4
	}
	if cfg.MaxMessageBytes == 0 {
		cfg.MaxMessageBytes = 16 << 20
	}
	opts := []kfake.Opt{
		kfake.Ports(cfg.Port),
		kfake.ClusterID("sightline-embedded"),
		kfake.SeedTopics(cfg.Partitions, TopicEvents, TopicDLQ, TopicPartials, TopicAlerts),
		kfake.DefaultNumPartitions(int(cfg.Partitions)),
		kfake.AllowAutoTopicCreation(),
		kfake.BrokerConfigs(map[string]string{"message.max.bytes": strconv.Itoa(cfg.MaxMessageBytes)}),
	}
	if cfg.DataDir != "" {
		if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
			return nil, fmt.Errorf("cannot create broker data directory: %w", err)
		}
		opts = append(opts, kfake.DataDir(cfg.DataDir))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("cannot start embedded broker on port %d: %w", cfg.Port, err)
	}
	return &Broker{c: c}, nil
}

// Addrs are the broker's listen addresses.
func (b *Broker) Addrs() []string { return b.c.ListenAddrs() }

// Close stops the broker, flushing its log to the data directory.
func (b *Broker) Close() { b.c.Close() }
