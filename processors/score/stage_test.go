package score_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sightline-dev/sightline/internal/broker"
	"github.com/sightline-dev/sightline/internal/testenv"
	"github.com/sightline-dev/sightline/processors/score"
	"github.com/sightline-dev/sightline/schemas/eventpb"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func event(i int) *eventpb.Event {
	return &eventpb.Event{
		SchemaVersion: 1,
		EventId:       fmt.Sprintf("0190c8e4-5a2b-7c3d-8e4f-%012d", i),
		Tenant:        "t", App: "app", Model: "gpt-4o",
		Ts:          timestamppb.New(time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Millisecond)),
		DurationMs:  100 + float64(i%50),
		Prompt:      []*eventpb.Message{{Role: "user", Content: fmt.Sprintf("question %d", i)}},
		Completion:  []*eventpb.Message{{Role: "assistant", Content: "answer", FinishReason: "stop"}},
		InputTokens: 10, OutputTokens: 5,
	}
}

func encode(t testing.TB, ev *eventpb.Event) []byte {
	b, err := proto.Marshal(ev)
	testenv.Must(t, err, "marshal")
	return b
}

type harness struct {
	t      *testing.T
	b      *broker.Broker
	conn   driver.Conn
	prod   *kgo.Client
	reg    *prometheus.Registry
	stage  *score.Stage
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newHarness(t *testing.T, opts ...func(*score.Config)) *harness {
	h := &harness{t: t, b: testenv.Broker(t, ""), reg: prometheus.NewRegistry()}
	h.conn, _ = testenv.Database(t)
	var err error
	h.prod, err = kgo.NewClient(kgo.SeedBrokers(h.b.Addrs()...), kgo.DefaultProduceTopic(broker.TopicEvents), kgo.ProducerBatchMaxBytes(16<<20))
	testenv.Must(t, err, "producer")
	t.Cleanup(h.prod.Close)
	cfg := score.Config{Brokers: h.b.Addrs(), BatchSize: 500, FlushInterval: 200 * time.Millisecond, RetryMax: time.Second}
	for _, o := range opts {
		o(&cfg)
	}
	h.stage, err = score.New(cfg, h.conn, h.reg)
	testenv.Must(t, err, "new stage")
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	h.wg.Add(1)
	go func() { defer h.wg.Done(); h.stage.Run(ctx) }()
	t.Cleanup(func() { cancel(); h.wg.Wait() })
	return h
}

func (h *harness) produce(values ...[]byte) {
	recs := make([]*kgo.Record, len(values))
	for i, v := range values {
		recs[i] = &kgo.Record{Value: v}
	}
	testenv.Must(h.t, h.prod.ProduceSync(context.Background(), recs...).FirstErr(), "produce")
}

func (h *harness) count(q string) uint64 {
	var n uint64
	testenv.Must(h.t, h.conn.QueryRow(context.Background(), q).Scan(&n), q)
	return n
}

func (h *harness) dlq(n int) map[string]string {
	cl, err := kgo.NewClient(kgo.SeedBrokers(h.b.Addrs()...), kgo.ConsumeTopics(broker.TopicDLQ), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	testenv.Must(h.t, err, "dlq consumer")
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out := map[string]string{}
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			h.t.Fatalf("got %d of %d DLQ records: %v", len(out), n, out)
		}
		fs.EachRecord(func(r *kgo.Record) {
			hd := map[string]string{}
			for _, x := range r.Headers {
				hd[x.Key] = string(x.Value)
			}
			out[hd[score.HeaderSourceOffset]+"/"+hd[score.HeaderSourcePartition]] = hd[score.HeaderReason] + ": " + hd[score.HeaderDetail]
		})
	}
	return out
}

// Bad input: each bad record lands in the DLQ with its reason or is stored
// truncated, and the stage keeps going.
func TestBadInputGoesToDLQAndStageKeepsRunning(t *testing.T) {
	h := newHarness(t)
	var invalidUTF8 []byte
	invalidUTF8 = protowire.AppendTag(invalidUTF8, 1, protowire.VarintType)
	invalidUTF8 = protowire.AppendVarint(invalidUTF8, 1)
	invalidUTF8 = protowire.AppendTag(invalidUTF8, 4, protowire.BytesType)
	invalidUTF8 = protowire.AppendString(invalidUTF8, "bad \xff\xfe app")

	wrongVersion := event(1)
	wrongVersion.SchemaVersion = 2
	missing := event(2)
	missing.Model = ""
	missing.App = ""
	huge := event(3)
	huge.Prompt[0].Content = strings.Repeat("x", 5<<20)
	noID := event(4)
	noID.EventId = ""

	h.produce(
		[]byte("\x00\x01garbage that is not protobuf\xff"),
		encode(t, wrongVersion),
		invalidUTF8,
		encode(t, missing),
		encode(t, noID),
		encode(t, huge),
		[]byte{},
	)
	reasons := h.dlq(6)
	want := []string{"decode", "schema_version", "invalid_field", "missing_field", "missing_field", "decode"}
	var got []string
	for _, r := range reasons {
		got = append(got, strings.SplitN(r, ":", 2)[0])
	}
	if len(got) != len(want) {
		t.Fatalf("DLQ reasons %v", reasons)
	}
	for _, r := range reasons {
		if strings.Contains(r, "x\x78xxxxxx") {
			t.Fatal("DLQ detail carries event content")
		}
	}
	t.Logf("DLQ: %v", reasons)

	// The stage is still running: valid events after the garbage are stored.
	var vals [][]byte
	for i := 100; i < 300; i++ {
		vals = append(vals, encode(t, event(i)))
	}
	h.produce(vals...)
	testenv.Eventually(t, 30*time.Second, "valid events stored", func() (bool, string) {
		n := h.count("SELECT count() FROM llm_events FINAL")
		return n == 201, fmt.Sprint(n)
	})
	var truncated uint8
	var plen uint32
	testenv.Must(t, h.conn.QueryRow(context.Background(),
		"SELECT truncated, prompt_chars FROM llm_events FINAL WHERE event_id = ?", event(3).EventId).Scan(&truncated, &plen), "query huge")
	if truncated != 1 || plen == 0 || plen > 256<<10 {
		t.Fatalf("5 MB prompt stored with truncated=%d prompt_chars=%d", truncated, plen)
	}
	if v := counterValue(t, h.reg, "sightline_score_dlq_total", "missing_field"); v != 2 {
		t.Fatalf("dlq metric missing_field = %v", v)
	}
}

func counterValue(t *testing.T, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	testenv.Must(t, err, "gather")
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetValue() == label {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// ClickHouse failing: the stage retries with backoff and loses nothing.
func TestClickHouseOutageIsRetriedWithoutLoss(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	testenv.Must(t, h.conn.Exec(ctx, "RENAME TABLE llm_events TO llm_events_away"), "rename away")
	var vals [][]byte
	for i := 0; i < 300; i++ {
		vals = append(vals, encode(t, event(i)))
	}
	h.produce(vals...)
	testenv.Eventually(t, 30*time.Second, "insert retries", func() (bool, string) {
		v := counterValue(t, h.reg, "sightline_score_retries_total", "clickhouse")
		return v >= 2, fmt.Sprint(v)
	})
	testenv.Must(t, h.conn.Exec(ctx, "RENAME TABLE llm_events_away TO llm_events"), "rename back")
	testenv.Eventually(t, 30*time.Second, "all events stored after the outage", func() (bool, string) {
		n := h.count("SELECT count() FROM llm_events FINAL")
		return n == 300, fmt.Sprint(n)
	})
	if n := h.count("SELECT count(DISTINCT event_id) FROM llm_events"); n != 300 {
		t.Fatalf("%d distinct events", n)
	}
}

// Feedback events go to llm_feedback.
func TestFeedbackStored(t *testing.T) {
	h := newHarness(t)
	fb := event(7)
	fb.Kind = eventpb.Kind_KIND_FEEDBACK
	fb.Feedback = &eventpb.Feedback{EventId: event(1).EventId, Score: -1, Label: "thumbs_down"}
	h.produce(encode(t, event(1)), encode(t, fb))
	testenv.Eventually(t, 30*time.Second, "feedback stored", func() (bool, string) {
		n := h.count("SELECT count() FROM llm_feedback FINAL WHERE target_event_id = '" + event(1).EventId + "'")
		return n == 1, fmt.Sprint(n)
	})
}

// OnCommitted sees every stored event once, after its batch committed.
func TestOnCommittedSeesEachStoredEventOnce(t *testing.T) {
	var (
		mu   sync.Mutex
		seen = map[string]int{}
	)
	h := newHarness(t, func(c *score.Config) {
		c.OnCommitted = func(rows []chsink.EventRow) {
			mu.Lock()
			defer mu.Unlock()
			for _, r := range rows {
				seen[r.Event.EventId]++
			}
		}
	})
	const n = 1200 // several batches of 500
	vals := make([][]byte, n)
	for i := range vals {
		vals[i] = encode(t, event(i))
	}
	h.produce(vals...)
	testenv.Eventually(t, 30*time.Second, "every event committed", func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) == n, fmt.Sprint(len(seen))
	})
	mu.Lock()
	defer mu.Unlock()
	for id, c := range seen {
		if c != 1 {
			t.Fatalf("event %s passed %d times", id, c)
		}
	}
	if got := h.count("SELECT count() FROM llm_events FINAL"); got != n {
		t.Fatalf("%d events stored, want %d", got, n)
	}
}
