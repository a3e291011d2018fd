package aggregate_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sightline-dev/sightline/internal/testenv"
	"github.com/sightline-dev/sightline/processors/aggregate"
	"github.com/sightline-dev/sightline/processors/window"
)

// A member that the group left without a partition (five members, four
// partitions) is not ready and says why; the others are ready.
func TestMemberWithoutPartitionsIsNotReady(t *testing.T) {
	b := testenv.Broker(t, "")
	conn, _ := testenv.Database(t)
	var stages []*aggregate.Stage
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 5)
	defer func() {
		cancel()
		for range stages {
			<-done
		}
	}()
	for i := 0; i < 5; i++ {
		s, err := aggregate.New(aggregate.Config{Brokers: b.Addrs(), Group: "readiness", Window: winSize, Rollup: -1,
			SessionTimeout: 10 * time.Second, WindowConfig: window.DefaultConfig()}, conn, prometheus.NewRegistry())
		testenv.Must(t, err, "aggregate stage")
		stages = append(stages, s)
		go func() { s.Run(ctx); done <- struct{}{} }()
	}
	testenv.Eventually(t, 60*time.Second, "four ready members and one without partitions", func() (bool, string) {
		ready, idle := 0, 0
		var why string
		for _, s := range stages {
			ok, reason := s.Status()
			switch {
			case ok:
				ready++
			case strings.Contains(reason, "owns no partition"):
				idle++
				why = reason
			}
		}
		return ready == 4 && idle == 1, testenv.Sprintf("ready %d, without partitions %d (%s)", ready, idle, why)
	})
}
