package broker_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sightline-dev/sightline/internal/broker"
)

// The embedded broker keeps its log across a restart on the same port and
// data directory.
func TestLogSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	b, err := broker.Start(broker.Config{Port: -1, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	addrs := b.Addrs()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.DefaultProduceTopic(broker.TopicEvents))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := 0; i < 50; i++ {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte{byte(i)}}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	cl.Close()
	b.Close()

	port, err := portOf(addrs[0])
	if err != nil {
		t.Fatal(err)
	}
	b2, err := broker.Start(broker.Config{Port: port, DataDir: dir})
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	defer b2.Close()
	cons, err := kgo.NewClient(kgo.SeedBrokers(b2.Addrs()...), kgo.ConsumeTopics(broker.TopicEvents), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	got := 0
	for got < 50 {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of 50 records after restart", got)
		}
		got += fs.NumRecords()
	}
}
