package offsets

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"

	"github.com/sightline-dev/sightline/internal/broker"
	"github.com/sightline-dev/sightline/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The watcher lists end and start offsets on its timer, keeps when each
// partition's end last moved, and stops its goroutine on Close.
func TestWatcherListsOffsets(t *testing.T) {
	b, err := broker.Start(broker.Config{Port: -1, Partitions: 2})
	testenv.Must(t, err, "broker")
	defer b.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	testenv.Must(t, err, "client")
	defer cl.Close()
	ctx := context.Background()
	produce := func(n int) {
		for range n {
			testenv.Must(t, cl.ProduceSync(ctx, &kgo.Record{Topic: broker.TopicEvents, Partition: 1, Value: []byte("x")}).FirstErr(), "produce")
		}
	}
	produce(3)
	listings := make(chan struct{}, 100)
	w := Start(cl, Config{Interval: 20 * time.Millisecond, OnListing: func() {
		select {
		case listings <- struct{}{}:
		default:
		}
	}}, broker.TopicEvents)
	defer w.Close()
	<-listings
	l := w.Last(broker.TopicEvents)
	if l == nil || l.Partitions != 2 || l.End[0] != 0 || l.End[1] != 3 || l.Start[1] != 0 {
		t.Fatalf("listing %+v", l)
	}
	quietSince := l.Since[1]
	<-listings
	if l2 := w.Last(broker.TopicEvents); !l2.Since[1].Equal(quietSince) || !l2.At.After(l.At) {
		t.Fatalf("an unchanged end offset must keep its since time: %v then %v", quietSince, l2.Since[1])
	}
	produce(1)
	testenv.Eventually(t, 5*time.Second, "the new end offset", func() (bool, string) {
		l3 := w.Last(broker.TopicEvents)
		return l3.End[1] == 4 && l3.Since[1].After(quietSince), testenv.Sprintf("%+v", l3.End)
	})
	if err := w.Err(); err != nil {
		t.Fatal(err)
	}
}
