package aggregate

import (
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sightline-dev/sightline/processors/window"
	"github.com/sightline-dev/sightline/schemas"
	"github.com/sightline-dev/sightline/schemas/eventpb"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

type wkey struct {
	k     window.Key
	start int64
}

// Collector folds the events of one score-stage batch into per-key,
// per-window partials (it implements score.Partials). Its memory is bounded
// by the batch: at most one partial per distinct key and window in it.
type Collector struct {
	cfg    window.Config
	size   time.Duration
	topic  string
	parts  map[wkey]*window.Partial
	events int
}

// NewCollector returns a collector for windows of the given size.
func NewCollector(size time.Duration, cfg window.Config) *Collector {
	return &Collector{cfg: cfg, size: size, topic: schemas.TopicPartials, parts: map[wkey]*window.Partial{}}
}

// KeyOf is the aggregation key of an event: its tenant, app, model (the
// requested one when the response did not say) and variant (the prompt
// template's version when no variant is set). The stream's partials and
// the reference file's are keyed alike.
func KeyOf(ev *eventpb.Event) window.Key {
	model := ev.GetModel()
	if model == "" {
		model = ev.GetRequestModel()
	}
	variant := ev.GetVariant()
	if variant == "" && ev.GetPromptTemplate().GetVersion() != "" {
		variant = "template:" + ev.GetPromptTemplate().GetVersion()
	}
	return window.Key{Tenant: ev.GetTenant(), App: ev.GetApp(), Model: model, Variant: variant}
}

// Add implements score.Partials.
func (c *Collector) Add(row *chsink.EventRow) {
	ev := row.Event
	ts := ev.GetTs().AsTime()
	k := wkey{KeyOf(ev), ts.Truncate(c.size).Unix()}
	p := c.parts[k]
	if p == nil {
		p = window.NewPartial(k.k, k.start, uint32(c.size/time.Second), c.cfg)
		c.parts[k] = p
	}
	p.Add(ev, &row.Features, &row.Scores)
	c.events++
}

// Records implements score.Partials: one record per partial, keyed by
// PartitionKey so one aggregate member sees all of a key's partials.
func (c *Collector) Records() ([]*kgo.Record, error) {
	out := make([]*kgo.Record, 0, len(c.parts))
	for k, p := range c.parts {
		b, err := p.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("cannot encode partial: %w", err)
		}
		out = append(out, &kgo.Record{Topic: c.topic, Key: PartitionKey(k.k), Value: b})
	}
	return out, nil
}

// PartitionKey is the Kafka record key of a partial: its tenant and app,
// not the whole window key. The partials of every model and variant of one
// app then reach one aggregate member, which is what the things judged
// across them need when several members share the partials topic: an
// alert incident grouped by [tenant, app] (the default group_by) is
// evaluated and notified by one member, and an experiment's variants are
// compared where both are counted. The cost is coarser balancing: one
// app's traffic cannot be spread over several aggregate members.
func PartitionKey(k window.Key) []byte {
	return []byte(k.Tenant + "\x00" + k.App)
}

// Reset implements score.Partials.
func (c *Collector) Reset() {
	clear(c.parts)
	c.events = 0
}
