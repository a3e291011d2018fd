package aggregate

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sightline-dev/sightline/processors/window"
)

// Every model and variant of one (tenant, app) lands on one partials
// partition (what an incident grouped by [tenant, app] and an experiment
// need), while different apps still spread over the partitions.
func TestPartitionKeyGroupsAnApp(t *testing.T) {
	p := kgo.StickyKeyPartitioner(nil).ForTopic("partials")
	part := func(k window.Key) int { return p.Partition(&kgo.Record{Key: PartitionKey(k)}, 16) }
	base := window.Key{Tenant: "acme", App: "support-bot", Model: "gpt-4o", Variant: "control"}
	want := part(base)
	for _, k := range []window.Key{
		{Tenant: "acme", App: "support-bot", Model: "gpt-4o", Variant: "empathetic-v2"},
		{Tenant: "acme", App: "support-bot", Model: "gpt-4o-mini", Variant: "control"},
		{Tenant: "acme", App: "support-bot"},
	} {
		if got := part(k); got != want {
			t.Errorf("%v on partition %d, %v on %d: one app's partials split across aggregate members", k, got, base, want)
		}
	}
	seen := map[int]bool{}
	for _, app := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		seen[part(window.Key{Tenant: "acme", App: app, Model: "m", Variant: "v"})] = true
	}
	if len(seen) < 3 {
		t.Errorf("8 apps on %d of 16 partitions: the key no longer spreads apps", len(seen))
	}
	// The separator keeps ("ab", "c") and ("a", "bc") apart.
	if string(PartitionKey(window.Key{Tenant: "ab", App: "c"})) == string(PartitionKey(window.Key{Tenant: "a", App: "bc"})) {
		t.Error("tenant and app run together in the partition key")
	}
}
