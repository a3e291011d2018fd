package notify

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sightline-dev/sightline/internal/redact"
	"github.com/sightline-dev/sightline/schemas"
)

// DefaultTopic receives alert events unless a kafka action names another.
const DefaultTopic = schemas.TopicAlerts

// Kafka produces each notification as a JSON record (the webhook payload)
// keyed by fingerprint, so one alert's events stay ordered in a partition.
type Kafka struct {
	client *kgo.Client
	topic  string
}

// NewKafka connects a producer (connections are made lazily).
func NewKafka(brokers []string, topic string) (*Kafka, error) {
	if topic == "" {
		topic = DefaultTopic
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(topic),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerBatchMaxBytes(1<<20))
	if err != nil {
		return nil, fmt.Errorf("cannot create kafka client: %w", err)
	}
	return &Kafka{client: cl, topic: topic}, nil
}

// Notify produces one record and waits for its acknowledgement.
func (k *Kafka) Notify(ctx context.Context, n Notification) (Outcome, error) {
	body, err := json.Marshal(n)
	if err != nil {
		return Outcome{}, Permanent(fmt.Errorf("cannot encode alert event: %w", err))
	}
	rec := &kgo.Record{Topic: k.topic, Key: []byte(n.Fingerprint), Value: body,
		Headers: []kgo.RecordHeader{{Key: "state", Value: []byte(n.State)}}}
	if err := k.client.ProduceSync(ctx, rec).FirstErr(); err != nil {
		// Broker errors may quote addresses with credentials (SASL URLs).
		return Outcome{}, redact.Error(fmt.Errorf("cannot produce alert event to %s: %w", k.topic, err))
	}
	return Outcome{}, nil
}

// Close flushes and closes the producer.
func (k *Kafka) Close() { k.client.Close() }
