package aggregate

import (
	"testing"

	"github.com/sightline-dev/sightline/processors/window"
	"github.com/sightline-dev/sightline/schemas/eventpb"
)

// TestKeyOf: the key the stream's partials and the reference file's
// events are grouped by, with its fallbacks.
func TestKeyOf(t *testing.T) {
	for _, c := range []struct {
		ev   *eventpb.Event
		want window.Key
	}{
		{&eventpb.Event{Tenant: "t", App: "a", Model: "m", RequestModel: "r", Variant: "B"}, window.Key{Tenant: "t", App: "a", Model: "m", Variant: "B"}},
		{&eventpb.Event{App: "a", RequestModel: "r", PromptTemplate: &eventpb.PromptTemplate{Id: "p", Version: "3"}}, window.Key{App: "a", Model: "r", Variant: "template:3"}},
		{&eventpb.Event{App: "a", Model: "m", Variant: "B", PromptTemplate: &eventpb.PromptTemplate{Version: "3"}}, window.Key{App: "a", Model: "m", Variant: "B"}},
	} {
		if got := KeyOf(c.ev); got != c.want {
			t.Errorf("KeyOf(%v) = %+v, want %+v", c.ev, got, c.want)
		}
	}
}
