package score

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Which partitions of the events topic this member owns (the assigned
// gauge, lag, readiness, progress reports) cannot be told from the
// revoke and lost callbacks alone: kgo.GroupTransactSession passes only
// the first revoke and the first loss after each End to them, and holds
// back the rest until the next End (a transaction that saw one revoke
// aborts anyway). An idle member never calls End, so the second time it
// gave partitions away it went on claiming them. Hence ownership comes
// from what the session always passes on:
//
//   - the assignment of every generation, as the group's SyncGroup
//     response carries it (the balancer parses it before the client
//     acts on it), which includes what a cooperative rebalance takes
//     away;
//   - a group session that died (HookGroupManageError): franz-go drops
//     the whole assignment then;
//   - the revoke and lost callbacks when they do come (leaving the group).
//
// The balancer wraps franz-go's default one under the same protocol name,
// so the group behaves as before (classic protocol, cooperative-sticky).
func ownershipOpts(topic string, prog *progress) []kgo.Opt {
	onGone := func(_ context.Context, _ *kgo.Client, m map[string][]int32) { prog.revoked(m[topic]) }
	return []kgo.Opt{
		kgo.Balancers(&trackingBalancer{GroupBalancer: kgo.CooperativeStickyBalancer(), topic: topic, prog: prog}),
		kgo.WithHooks(sessionDied{prog}),
		kgo.OnPartitionsRevoked(onGone),
		kgo.OnPartitionsLost(onGone),
	}
}

// trackingBalancer is the cooperative-sticky balancer (franz-go's
// default) that also records each assignment the member is synced with.
type trackingBalancer struct {
	kgo.GroupBalancer
	topic string
	prog  *progress
}

func (b *trackingBalancer) ParseSyncAssignment(assignment []byte) (map[string][]int32, error) {
	m, err := b.GroupBalancer.ParseSyncAssignment(assignment)
	if err == nil {
		b.prog.own(m[b.topic])
	}
	return m, err
}

// sessionDied: the group session ended in an error; franz-go has dropped
// the assignment (and called OnPartitionsLost, which the transact session
// may have held back).
type sessionDied struct{ prog *progress }

func (h sessionDied) OnGroupManageError(error) { h.prog.own(nil) }

// checkBalancer fails when the caller's KafkaOpts replaced the balancer
// that tracks ownership.
func checkBalancer(cl *kgo.Client) error {
	bs, _ := cl.OptValue(kgo.Balancers).([]kgo.GroupBalancer)
	if len(bs) == 1 {
		if _, ok := bs[0].(*trackingBalancer); ok {
			return nil
		}
	}
	return errors.New("cannot use a kafka group balancer of one's own in the score stage: it tracks which partitions it owns through its own (cooperative-sticky)")
}
