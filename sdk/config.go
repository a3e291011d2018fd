package sdk

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sightline-dev/sightline/schemas"
	"github.com/sightline-dev/sightline/schemas/kafkaconf"
)

// Opt configures a Client.
type Opt interface{ apply(*cfg) }

type opt func(*cfg)

func (o opt) apply(c *cfg) { o(c) }

type cfg struct {
	brokers         []string
	topic           string
	queueSize       int
	tenant          string
	app             string
	environment     string
	redactor        Redactor
	sampleRate      float64
	maxContentBytes int
	lingerTime      time.Duration
	deliveryTimeout time.Duration
	kgoOpts         []kgo.Opt
	kafkaTLS        kafkaconf.TLS
	kafkaSASL       kafkaconf.SASL
	onError         func(error)
	sdkName         string
}

func defaultCfg() cfg {
	return cfg{
		brokers:         []string{"127.0.0.1:19092"},
		topic:           schemas.TopicEvents,
		queueSize:       10000,
		tenant:          "default",
		environment:     "",
		sampleRate:      1,
		maxContentBytes: 256 << 10,
		lingerTime:      5 * time.Millisecond,
		deliveryTimeout: 30 * time.Second,
		sdkName:         "sightline-go",
	}
}

func (c *cfg) validate() error {
	for _, v := range []struct {
		name string
		bad  bool
		why  string
	}{
		{"Brokers", len(c.brokers) == 0, "at least one broker is required"},
		{"Topic", c.topic == "", "must not be empty"},
		{"QueueSize", c.queueSize < 1, "must be at least 1"},
		{"App", c.app == "", "is required (the application's name, e.g. sdk.App(\"checkout-bot\"))"},
		{"SampleRate", !(c.sampleRate > 0 && c.sampleRate <= 1), "must be in (0, 1]"},
		{"MaxContentBytes", c.maxContentBytes < 1024, "must be at least 1024"},
		{"DeliveryTimeout", c.deliveryTimeout < time.Second, "must be at least 1s"},
	} {
		if v.bad {
			return fmt.Errorf("invalid sdk option %s: %s", v.name, v.why)
		}
	}
	if err := c.kafka().Validate(); err != nil {
		return fmt.Errorf("invalid sdk option %w", err)
	}
	return nil
}

// kafka is the connection in schemas/kafkaconf's shape, its errors
// spelled after the options (KafkaTLS.ca_file, KafkaSASL.password).
func (c *cfg) kafka() *kafkaconf.Config {
	return &kafkaconf.Config{Brokers: c.brokers, TLS: c.kafkaTLS, SASL: c.kafkaSASL, Key: func(name string) string {
		for prefix, opt := range map[string]string{"tls.": "KafkaTLS.", "sasl.": "KafkaSASL.", "brokers": "Brokers"} {
			if rest, ok := strings.CutPrefix(name, prefix); ok {
				return opt + rest
			}
		}
		return name
	}}
}

// Brokers sets the Kafka seed brokers, overriding the default
// 127.0.0.1:19092 (the embedded broker of `sightline up`).
func Brokers(addrs ...string) Opt { return opt(func(c *cfg) { c.brokers = addrs }) }

// Topic sets the events topic, overriding the default "sightline.events".
func Topic(t string) Opt { return opt(func(c *cfg) { c.topic = t }) }

// QueueSize bounds the number of calls waiting to be encoded and produced,
// overriding the default 10000. Calls recorded while the queue is full are
// dropped and counted.
func QueueSize(n int) Opt { return opt(func(c *cfg) { c.queueSize = n }) }

// App names the application (required).
func App(name string) Opt { return opt(func(c *cfg) { c.app = name }) }

// Tenant sets the tenant, overriding the default "default".
func Tenant(t string) Opt { return opt(func(c *cfg) { c.tenant = t }) }

// Environment sets the deployment environment (e.g. "prod"), default empty.
func Environment(e string) Opt { return opt(func(c *cfg) { c.environment = e }) }

// WithRedactor sets the redaction applied to every event before it leaves
// the process, overriding the default of none.
func WithRedactor(r Redactor) Opt { return opt(func(c *cfg) { c.redactor = r }) }

// SampleRate keeps this fraction of calls (deterministically by event id),
// overriding the default 1 (all).
func SampleRate(f float64) Opt { return opt(func(c *cfg) { c.sampleRate = f }) }

// MaxContentBytes cuts each message, passage and reference to this many
// bytes (the event is flagged truncated), overriding the default 256 KiB.
func MaxContentBytes(n int) Opt { return opt(func(c *cfg) { c.maxContentBytes = n }) }

// Linger sets how long the producer waits to fill a batch, overriding the
// default 5ms.
func Linger(d time.Duration) Opt { return opt(func(c *cfg) { c.lingerTime = d }) }

// DeliveryTimeout bounds how long one event may be retried against an
// unreachable broker before it is counted as failed, overriding the default
// 30s.
func DeliveryTimeout(d time.Duration) Opt { return opt(func(c *cfg) { c.deliveryTimeout = d }) }

// KafkaTLS connects to the brokers over TLS, overriding the default
// plaintext: t.CAFile is the PEM bundle of the CAs that sign the brokers'
// certificates (default the system's roots), t.CertFile and t.KeyFile a
// client certificate for brokers that require one, t.ServerName the name
// their certificates carry (default each broker's host). t.Enabled is
// implied.
func KafkaTLS(t kafkaconf.TLS) Opt {
	return opt(func(c *cfg) { t.Enabled = true; c.kafkaTLS = t })
}

// KafkaSASL authenticates to the brokers, overriding the default of no
// authentication: s.Mechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512,
// with s.Username and s.Password, or s.PasswordEnv naming the environment
// variable that holds the password.
//
// With KafkaTLS or KafkaSASL, NewClient asks the brokers for metadata
// once (up to 3s) and fails when they refuse the settings (wrong
// password, mechanism, CA, ...), naming the option, rather than leaving
// every event to fail later. Brokers that do not answer do not fail it:
// events wait for them, up to DeliveryTimeout.
func KafkaSASL(s kafkaconf.SASL) Opt { return opt(func(c *cfg) { c.kafkaSASL = s }) }

// Kafka sets the brokers, TLS and SASL at once from the shape of the
// kafka: section of Sightline's config file (schemas/kafkaconf), e.g.
// decoded from the application's own YAML. Empty k.Brokers keeps the
// brokers set otherwise (default 127.0.0.1:19092).
func Kafka(k kafkaconf.Config) Opt {
	return opt(func(c *cfg) {
		if len(k.Brokers) > 0 {
			c.brokers = k.Brokers
		}
		c.kafkaTLS, c.kafkaSASL = k.TLS, k.SASL
	})
}

// KafkaOpts adds franz-go options (compression, a custom dialer, ...)
// after the SDK's own; for TLS and SASL prefer KafkaTLS and KafkaSASL,
// which check the settings at NewClient.
func KafkaOpts(o ...kgo.Opt) Opt { return opt(func(c *cfg) { c.kgoOpts = append(c.kgoOpts, o...) }) }

// OnError is called with encode and produce errors, from the SDK's
// goroutines, never the application's (f should rate-limit what it logs);
// the default ignores them. Errors are always counted in Stats; the events
// abandoned when Close's context ends are reported by Close's error, not
// one by one.
func OnError(f func(error)) Opt { return opt(func(c *cfg) { c.onError = f }) }

// ErrClosed is returned by RecordWait after Close.
var ErrClosed = errors.New("sightline sdk: client is closed")
