package score_test

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sightline-dev/sightline/internal/broker"
	"github.com/sightline-dev/sightline/internal/testenv"
	"github.com/sightline-dev/sightline/processors/score"
)

// member is one score stage of a group, with its own metrics.
type member struct {
	name   string
	stage  *score.Stage
	reg    *prometheus.Registry
	cancel context.CancelFunc
	done   chan struct{}
}

func (m *member) stop() {
	m.cancel()
	<-m.done
}

// owned is what the member reports owning: the partitions it keeps a lag
// gauge for, and its sightline_score_assigned_partitions gauge.
func (m *member) owned(t *testing.T) (parts []int32, gauge float64) {
	t.Helper()
	mfs, err := m.reg.Gather()
	testenv.Must(t, err, "gather")
	for _, mf := range mfs {
		switch mf.GetName() {
		case "sightline_score_assigned_partitions":
			gauge = mf.GetMetric()[0].GetGauge().GetValue()
		case "sightline_score_consumer_lag_records":
			for _, x := range mf.GetMetric() {
				p, err := strconv.Atoi(x.GetLabel()[0].GetValue())
				testenv.Must(t, err, "partition label")
				parts = append(parts, int32(p))
			}
		}
	}
	slices.Sort(parts)
	return parts, gauge
}

// Several score stages in one group, joining and leaving: each member's
// owned partitions (lag gauges, the assigned-partitions gauge, readiness)
// must be what the group assigned it. Under a GroupTransactSession only the
// first revoke between two transaction ends reaches the stage's callback,
// so an idle member that loses partitions twice kept reporting the ones
// it gave away (found with three score processes).
func TestOwnershipFollowsGroupAssignment(t *testing.T) {
	const partitions = 3
	b, err := broker.Start(broker.Config{Port: -1, Partitions: partitions})
	testenv.Must(t, err, "broker")
	t.Cleanup(b.Close)
	conn, _ := testenv.Database(t)
	admCl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...))
	testenv.Must(t, err, "admin client")
	t.Cleanup(admCl.Close)
	adm := kadm.NewClient(admCl)

	var (
		wg      sync.WaitGroup
		members []*member
	)
	t.Cleanup(func() {
		for _, m := range members {
			m.cancel()
		}
		wg.Wait()
	})
	start := func(name string) *member {
		cfg := score.Config{Brokers: b.Addrs(), BatchSize: 500, FlushInterval: 200 * time.Millisecond,
			RetryMax: time.Second, ProgressInterval: 50 * time.Millisecond, SessionTimeout: 10 * time.Second}
		m := &member{name: name, reg: prometheus.NewRegistry(), done: make(chan struct{})}
		var err error
		m.stage, err = score.New(cfg, conn, m.reg)
		testenv.Must(t, err, "new stage "+name)
		ctx, cancel := context.WithCancel(context.Background())
		m.cancel = cancel
		wg.Add(1)
		go func() { defer wg.Done(); defer close(m.done); _ = m.stage.Run(ctx) }()
		members = append(members, m)
		return m
	}
	leave := func(m *member) {
		t.Helper()
		m.stop()
		members = slices.DeleteFunc(members, func(x *member) bool { return x == m })
		if ps, gauge := m.owned(t); len(ps) > 0 || gauge != 0 || m.stage.Ready() {
			t.Fatalf("%s stopped and reports owning %v (gauge %v, ready %v)", m.name, ps, gauge, m.stage.Ready())
		}
	}
	prod, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...), kgo.DefaultProduceTopic(broker.TopicEvents))
	testenv.Must(t, err, "producer")
	t.Cleanup(prod.Close)
	sent := 0
	produce := func() { // some traffic across the rebalances
		var recs []*kgo.Record
		for range 100 {
			recs = append(recs, &kgo.Record{Value: encode(t, event(sent))})
			sent++
		}
		testenv.Must(t, prod.ProduceSync(context.Background(), recs...).FirstErr(), "produce")
	}

	// settled: the group is stable and every running member reports
	// exactly what the group assigned to some member (a multiset match:
	// members are not told apart by the broker's member ids), with the
	// assignment covering every partition once.
	settled := func(step string) {
		t.Helper()
		testenv.Eventually(t, 60*time.Second, step, func() (bool, string) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			dgs, err := adm.DescribeGroups(ctx, "sightline-score")
			if err != nil {
				return false, err.Error()
			}
			dg := dgs["sightline-score"]
			if dg.State != "Stable" || len(dg.Members) != len(members) {
				return false, fmt.Sprintf("group %s with %d members", dg.State, len(dg.Members))
			}
			var want, got []string
			all := map[int32]int{}
			for _, dm := range dg.Members {
				ca, ok := dm.Assigned.AsConsumer()
				if !ok {
					return false, "not a consumer group member"
				}
				var ps []int32
				for _, tp := range ca.Topics {
					if tp.Topic == broker.TopicEvents {
						ps = append(ps, tp.Partitions...)
					}
				}
				slices.Sort(ps)
				for _, p := range ps {
					all[p]++
				}
				want = append(want, fmt.Sprint(ps))
			}
			for p := int32(0); p < partitions; p++ {
				if all[p] != 1 {
					return false, fmt.Sprintf("group assignment %v does not cover partition %d once", want, p)
				}
			}
			var bad []string
			for _, m := range members {
				ps, gauge := m.owned(t)
				got = append(got, fmt.Sprint(ps))
				if int(gauge) != len(ps) {
					bad = append(bad, fmt.Sprintf("%s: gauge %v for %v", m.name, gauge, ps))
				}
				ready, why := m.stage.Status()
				if ready != (len(ps) > 0) {
					bad = append(bad, fmt.Sprintf("%s: owns %v, ready=%v (%s)", m.name, ps, ready, why))
				}
			}
			sort.Strings(want)
			sort.Strings(got)
			if !slices.Equal(want, got) || len(bad) > 0 {
				return false, fmt.Sprintf("group assigned %v, members report %v %s", want, got, strings.Join(bad, "; "))
			}
			return true, ""
		})
		t.Logf("%s: settled with %d members", step, len(members))
	}

	a := start("a")
	settled("a alone")
	produce()
	bm := start("b")
	settled("b joined")
	start("c")
	settled("c joined") // a (or b) loses a partition a second time
	produce()
	start("d")
	settled("d joined") // one member of four owns nothing and is not ready
	leave(bm)
	settled("b left")
	produce()
	leave(a)
	settled("a left")
	start("e")
	settled("e joined")
	produce()

	// The traffic across the rebalances is stored, each event once.
	testenv.Eventually(t, 30*time.Second, "every event stored", func() (bool, string) {
		var n uint64
		testenv.Must(t, conn.QueryRow(context.Background(), "SELECT count() FROM llm_events FINAL").Scan(&n), "count")
		return n == uint64(sent), fmt.Sprintf("%d of %d", n, sent)
	})
}

// A balancer of one's own in KafkaOpts would bypass the ownership
// tracking: New refuses it.
func TestOwnBalancerRefused(t *testing.T) {
	cfg := score.Config{Brokers: []string{"127.0.0.1:1"}, KafkaOpts: []kgo.Opt{kgo.Balancers(kgo.RangeBalancer())}}
	if _, err := score.New(cfg, nil, nil); err == nil || !strings.Contains(err.Error(), "balancer") {
		t.Fatalf("New with a balancer of its own: %v", err)
	}
}
