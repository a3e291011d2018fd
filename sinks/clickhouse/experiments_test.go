package clickhouse_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/sightline-dev/sightline/internal/testenv"
	"github.com/sightline-dev/sightline/processors/window"
	"github.com/sightline-dev/sightline/schemas/eventpb"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

// Looks round-trip through llm_experiments; a rewrite with a higher
// version replaces a look; the latest look per treatment and the looks
// around a window come back in order.
func TestExperimentLooks(t *testing.T) {
	conn, _ := testenv.Database(t)
	ctx := context.Background()
	cfg := window.DefaultConfig()
	key := func(v string) window.Key { return window.Key{Tenant: "t", App: "a", Model: "m", Variant: v} }
	arm := func(v string, n int, lat float64) window.ABStats {
		p := window.NewPartial(key(v), 0, 60, cfg)
		for i := 0; i < n; i++ {
			p.Add(&eventpb.Event{EventId: fmt.Sprintf("%s-%d", v, i), DurationMs: lat + float64(i%7)}, nil, nil)
		}
		return p.ABStats()
	}
	var rows []chsink.ExperimentRow
	looks := map[string][]window.ExperimentLook{}
	for _, v := range []string{"b", "c"} {
		var e *window.Experiment
		for w := int64(0); w < 4; w++ {
			c, tr := arm("control", 20, 100), arm(v, 20, 110+float64(w))
			e, _ = window.Advance(e, key(v), "control", w*60, &c, &tr, cfg)
			l := window.ExperimentLook{Window: w * 60, Control: c, Treatment: tr, State: e.Clone()}
			looks[v] = append(looks[v], l)
			rows = append(rows, chsink.ExperimentRow{Key: key(v), Control: "control", WindowSeconds: 60, Look: l, Version: uint64(w + 1)})
		}
	}
	testenv.Must(t, chsink.InsertExperiments(ctx, conn, rows), "insert")
	// A replay rewrites b's look at 120 with more data.
	re := rows[2]
	re.Look.State = re.Look.State.Clone()
	re.Look.State.Looks = 99
	re.Version = 100
	testenv.Must(t, chsink.InsertExperiments(ctx, conn, []chsink.ExperimentRow{re}), "rewrite")

	latest, err := chsink.LatestExperiments(ctx, conn, "t", "a", "m", "control", 60)
	testenv.Must(t, err, "latest")
	if len(latest) != 2 || latest["b"].Window != 180 || latest["c"].State.Looks != 4 {
		t.Fatalf("latest: %+v", latest)
	}
	if l := latest["c"]; l.Treatment != looks["c"][3].Treatment || l.Control != looks["c"][3].Control {
		t.Fatal("the window's statistics did not round-trip")
	}
	before, after, err := chsink.ExperimentLooksAround(ctx, conn, key("b"), "control", 60, 60)
	testenv.Must(t, err, "around")
	if before == nil || before.Window != 0 || len(after) != 2 || after[0].Window != 120 || after[0].State.Looks != 99 || after[1].Window != 180 {
		t.Fatalf("around 60: before %+v, after %d looks", before, len(after))
	}
	if before, after, _ = chsink.ExperimentLooksAround(ctx, conn, key("b"), "control", 60, 0); before != nil || len(after) != 3 {
		t.Fatalf("around 0: before %+v, after %d", before, len(after))
	}
	if none, _ := chsink.LatestExperiments(ctx, conn, "t", "a", "m", "other-control", 60); len(none) != 0 {
		t.Fatalf("another control's experiments: %+v", none)
	}
}
