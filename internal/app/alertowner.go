package app

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sightline-dev/sightline/internal/config"
	"github.com/sightline-dev/sightline/processors/alert"
	"github.com/sightline-dev/sightline/processors/window"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

// ownedAlerts is the alert engine of one aggregate member among several
// (`sightline aggregate` run N times in one consumer group).
//
// Partials are keyed by tenant and app (aggregate.PartitionKey), so every
// series of one (tenant, app), and every incident of a rule that groups by
// at least tenant and app (the default group_by), is evaluated by the
// member that owns that partials partition, one member at a time. What
// moves with a rebalance is the partition, not the engine's memory: the
// member that takes a key over would judge its windows from the state it
// loaded when it started, and fire (and notify) again an incident the
// previous owner already announced. So the engine is reloaded from
// llm_alerts — where every engine writes its state changes before it
// notifies — before it judges a key it has not judged the previous window
// of: a key new to it, or one whose windows another member judged in
// between. The reload is a new alert.Engine (alert.New loads the state);
// the old one finishes delivering what it queued, in the background.
//
// A rule grouped more coarsely than [tenant, app] (say group_by [model])
// can have the series of one incident on several members, each of which
// announces the part it owns as an incident of its own: warnScaleOut says
// so at start.
//
// In steady state every key continues from its previous window and nothing
// is reloaded; a key with a quiet window (no events) costs one reload when
// it resumes. Evaluate is called by the aggregate stage's goroutine only.
type ownedAlerts struct {
	build   func() (*alert.Engine, error)
	log     *slog.Logger
	engine  *alert.Engine
	last    map[ownedKey]int64 // newest window start judged by engine, per key and window size
	closing sync.WaitGroup     // old engines delivering their queue
	reloads prometheus.Counter
	failed  prometheus.Counter
}

type ownedKey struct {
	k    window.Key
	secs uint32
}

// closeTimeout bounds how long a replaced or stopping engine may take to
// deliver what it queued.
const closeTimeout = 30 * time.Second

// newOwnedAlerts builds the engine when the config has rules (nil, nil
// when not).
func newOwnedAlerts(cfg config.Config, conn driver.Conn, reg prometheus.Registerer, log *slog.Logger) (*ownedAlerts, error) {
	if len(cfg.Alerts.Rules) == 0 {
		return nil, nil
	}
	// A reloaded engine registers its metrics again: the new collectors
	// replace the old ones (counters restart from zero, which rate()
	// reads as a reset).
	rr := replacingRegisterer{reg}
	o := &ownedAlerts{
		build: func() (*alert.Engine, error) { return alert.New(cfg.Alerts, conn, rr, log) },
		log:   log, last: map[ownedKey]int64{},
		reloads: prometheus.NewCounter(prometheus.CounterOpts{Name: "sightline_alert_reloads_total",
			Help: "Alert engine reloads from llm_alerts before judging keys this aggregate member took over (or resumed after a quiet window)."}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{Name: "sightline_alert_reload_errors_total",
			Help: "Alert engine reloads that failed (the previous engine went on judging)."}),
	}
	if reg != nil {
		if err := errors.Join(reg.Register(o.reloads), reg.Register(o.failed)); err != nil {
			return nil, err
		}
	}
	e, err := o.build()
	if err != nil {
		return nil, err
	}
	o.engine = e
	log.Info("alert engine running", "rules", len(cfg.Alerts.Rules), "actions", len(cfg.Alerts.Actions))
	return o, nil
}

// Evaluate judges rows (aggregate.Config.OnSignals), reloading the engine
// first when one of their keys was not judged here in its previous window.
func (o *ownedAlerts) Evaluate(ctx context.Context, rows []chsink.SignalRow) {
	if o.takesOver(rows) {
		o.reload()
	}
	o.engine.Evaluate(ctx, rows)
	for i := range rows {
		r := &rows[i]
		k := ownedKey{r.Key, r.WindowSeconds}
		if last, ok := o.last[k]; !ok || r.WindowStart > last {
			o.last[k] = r.WindowStart
		}
	}
}

// takesOver reports whether rows hold a window of a key whose previous
// window this engine did not judge. Corrections of windows judged before
// (not after the last) are the engine's own business.
func (o *ownedAlerts) takesOver(rows []chsink.SignalRow) bool {
	first := map[ownedKey]int64{}
	for i := range rows {
		r := &rows[i]
		k := ownedKey{r.Key, r.WindowSeconds}
		if s, ok := first[k]; !ok || r.WindowStart < s {
			first[k] = r.WindowStart
		}
	}
	for k, start := range first {
		last, ok := o.last[k]
		if !ok || start > last+int64(k.secs) {
			return true
		}
	}
	return false
}

func (o *ownedAlerts) reload() {
	e, err := o.build()
	if err != nil {
		o.failed.Inc()
		o.log.Error("cannot reload the alert engine from llm_alerts; judging with the state in memory", "err", err)
		return
	}
	o.reloads.Inc()
	old := o.engine
	o.engine = e
	clear(o.last)
	o.closing.Add(1)
	go func() {
		defer o.closing.Done()
		drainEngine(old, o.log, closeTimeout)
	}()
}

// Close drains the current engine and waits for replaced ones.
func (o *ownedAlerts) Close() {
	drainEngine(o.engine, o.log, 10*time.Second)
	o.closing.Wait()
}

func drainEngine(e *alert.Engine, log *slog.Logger, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := e.Close(ctx); err != nil {
		log.Warn("alert notifications not all delivered before stopping", "err", err)
	}
}

// replacingRegisterer registers a collector in place of an equal one
// already registered (a reloaded engine's metrics).
type replacingRegisterer struct{ prometheus.Registerer }

func (r replacingRegisterer) Register(c prometheus.Collector) error {
	if r.Registerer == nil {
		return nil
	}
	err := r.Registerer.Register(c)
	var dup prometheus.AlreadyRegisteredError
	if errors.As(err, &dup) {
		r.Registerer.Unregister(dup.ExistingCollector)
		return r.Registerer.Register(c)
	}
	return err
}

func (r replacingRegisterer) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

// warnScaleOut names the rules whose incidents several aggregate members
// can each see part of: partials are partitioned by tenant and app, so an
// incident grouped without one of them can have members on different
// instances, each announcing its own part; and a no_data policy other than
// keep is applied by a member to series it judged before a rebalance moved
// them away.
func warnScaleOut(cfg config.Config, log *slog.Logger) {
	for _, r := range cfg.Alerts.Rules {
		groupBy := r.GroupBy
		if groupBy == nil {
			groupBy = alert.DefaultGroupBy
		}
		if !slices.Contains(groupBy, "tenant") || !slices.Contains(groupBy, "app") {
			log.Warn("alert rule groups series of several apps or tenants; with more than one aggregate instance each instance notifies "+
				"the series it owns as its own incident (group_by at least tenant and app for one notification per incident)",
				"rule", r.Name, "group_by", groupBy)
		}
		if r.NoData == alert.NoDataOK || r.NoData == alert.NoDataAlerting {
			log.Warn("alert rule acts on missing data; with more than one aggregate instance an instance can resolve or fire a series another instance took over",
				"rule", r.Name, "no_data", r.NoData)
		}
	}
}
