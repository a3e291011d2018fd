// Package broker runs the embedded Kafka-protocol broker of single-machine
// mode: franz-go's kfake with a data directory, so the log survives
// restarts, bounded by retention so it does not grow without end.
// Production uses real Kafka or Redpanda through the same client code;
// nothing here is meant to be a cluster.
//
// The log holds raw prompts and completions: the data directory is the
// owner's only (0700). kfake creates its files 0644 and its directories
// 0755 inside it; the directory's mode is what keeps other users out, and
// the process umask is left alone (it is not a library's to change).
package broker

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/sightline-dev/sightline/schemas"
)

// Topics every Sightline deployment uses.
const (
	TopicEvents   = schemas.TopicEvents
	TopicDLQ      = schemas.TopicDLQ
	TopicPartials = schemas.TopicPartials
	TopicAlerts   = schemas.TopicAlerts
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

	// Retention drops records produced longer ago than this (default
	// DefaultRetention; negative keeps them, bounded by RetentionBytes
	// alone). Records are dropped whether or not a consumer group has read
	// them: a group whose committed offset was dropped resumes at the
	// oldest record left.
	Retention time.Duration
	// RetentionBytes bounds each partition's log (default
	// DefaultRetentionBytes; negative is unbounded). The oldest records
	// go first.
	RetentionBytes int64
	// SegmentBytes is the size at which a partition's log file is rolled
	// (default RetentionBytes/8, at most 64 MiB). Disk is freed a whole
	// segment at a time, so a partition takes up to RetentionBytes plus
	// one segment, and records past Retention stay on disk (unreadable)
	// until the rest of their segment expires too.
	SegmentBytes int64
	// RetentionCheckInterval is how often retention is applied (default
	// 1m, and once at start).
	RetentionCheckInterval time.Duration
}

// Retention defaults of the embedded broker. A day covers any normal lag
// of the score stage (seconds) and a stage stopped overnight; 256 MiB per
// partition (1 GiB for the default four partitions of sightline.events)
// bounds disk, and the memory kfake needs to load the log at start, at
// about twice that.
const (
	DefaultRetention      = 24 * time.Hour
	DefaultRetentionBytes = 256 << 20
)

// Broker is a running embedded broker.
type Broker struct {
	c     *kfake.Cluster
	addrs []string // kfake's ListenAddrs blocks once the cluster is closed
	stop  chan struct{}
	wg    sync.WaitGroup
	once  sync.Once
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
	if cfg.Retention == 0 {
		cfg.Retention = DefaultRetention
	}
	if cfg.RetentionBytes == 0 {
		cfg.RetentionBytes = DefaultRetentionBytes
	}
	if cfg.SegmentBytes <= 0 {
		cfg.SegmentBytes = 64 << 20
		if cfg.RetentionBytes > 0 {
			cfg.SegmentBytes = max(min(cfg.RetentionBytes/8, cfg.SegmentBytes), 1)
		}
	}
	if cfg.RetentionCheckInterval <= 0 {
		cfg.RetentionCheckInterval = time.Minute
	}
	retentionMs, retentionBytes := int64(-1), int64(-1)
	if cfg.Retention > 0 {
		retentionMs = max(cfg.Retention.Milliseconds(), 1)
	}
	if cfg.RetentionBytes > 0 {
		retentionBytes = cfg.RetentionBytes
	}
	opts := []kfake.Opt{
		kfake.Ports(cfg.Port),
		kfake.ClusterID("sightline-embedded"),
		kfake.SeedTopics(cfg.Partitions, TopicEvents, TopicDLQ, TopicPartials, TopicAlerts),
		kfake.DefaultNumPartitions(int(cfg.Partitions)),
		kfake.AllowAutoTopicCreation(),
		kfake.BrokerConfigs(map[string]string{
			"message.max.bytes":   strconv.Itoa(cfg.MaxMessageBytes),
			"log.retention.ms":    strconv.FormatInt(retentionMs, 10),
			"log.retention.bytes": strconv.FormatInt(retentionBytes, 10),
			"log.segment.bytes":   strconv.FormatInt(cfg.SegmentBytes, 10),
		}),
	}
	if cfg.DataDir != "" {
		// Chmod as well: a directory from an older release is 0755.
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("cannot create broker data directory: %w", err)
		}
		if err := os.Chmod(cfg.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("cannot restrict broker data directory %s: %w", cfg.DataDir, err)
		}
		opts = append(opts, kfake.DataDir(cfg.DataDir))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("cannot start embedded broker on port %d: %w", cfg.Port, err)
	}
	b := &Broker{c: c, addrs: c.ListenAddrs(), stop: make(chan struct{})}
	b.wg.Add(1)
	go b.applyRetention(cfg.RetentionCheckInterval)
	return b, nil
}

// applyRetention enforces retention until Close. kfake applies
// log.retention.* on its own only on a cleaner ticker that runs when some
// topic has its own retention.ms or retention.bytes (and then hourly by
// default), so the broker-wide settings would never be applied otherwise.
func (b *Broker) applyRetention(every time.Duration) {
	defer b.wg.Done()
	// At once: a log that grew past the limits while the broker was down
	// or under older settings is cut before consumers start reading it.
	b.c.ApplyRetention()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			b.c.ApplyRetention()
		}
	}
}

// Addrs are the broker's listen addresses.
func (b *Broker) Addrs() []string { return b.addrs }

// Close stops the broker, flushing its log to the data directory.
func (b *Broker) Close() {
	b.once.Do(func() {
		// Retention first: kfake's admin calls need the cluster running.
		close(b.stop)
		b.wg.Wait()
		b.c.Close()
	})
}
