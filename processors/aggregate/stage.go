package aggregate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sightline-dev/sightline/internal/broker"
	"github.com/sightline-dev/sightline/internal/retry"
	"github.com/sightline-dev/sightline/processors/window"
	"github.com/sightline-dev/sightline/schemas/eventpb"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

// Config of the aggregate stage. Zero values take the defaults.
type Config struct {
	Brokers []string // required
	Group   string   // default "sightline-aggregate"
	Topic   string   // default sightline.partials
	// Window is the size of the partials the score stage emits (default 1m).
	Window time.Duration
	// Rollup is the size of the rollup windows (default 1h; negative: none).
	Rollup time.Duration
	// Lateness is how long after its end a window still accepts partials,
	// in event time (default 30s).
	Lateness time.Duration
	// IdleClose: when no partial arrived for this long, windows close on
	// the wall clock (their end plus the lateness), so quiet traffic still
	// gets its signals (default 10s).
	IdleClose time.Duration
	// MaxKeys caps the tracked keys (tenant/app/model/variant); beyond it
	// new keys aggregate into one overflow key (default 10000).
	MaxKeys int
	// KeyIdle forgets a key with no open window after this long (default 1h).
	KeyIdle time.Duration
	// BaselineWindows is K of the rolling baseline: windows are grouped in
	// tumbling blocks of K aligned to K·window, and drift compares a window
	// with the previous complete block of its key (default 10).
	BaselineWindows int
	// Baseline selects what drift compares a window with: "rolling" (the
	// previous BaselineWindows windows of the key; default), "pinned:NAME"
	// (a baseline stored with `sightline baseline pin`), or "file:PATH" (a
	// reference file of events in their JSON form, per key when the file
	// has the key's events, else all of it).
	Baseline string
	// ReferenceScore scores the events of a reference file (nil: as given).
	ReferenceScore window.ScoreFunc
	// Control names the control variant of A/B comparisons (default
	// "control").
	Control string
	// WindowConfig configures partials and signals.
	WindowConfig window.Config
	// RetryMin and RetryMax bound the ClickHouse retry backoff.
	RetryMin, RetryMax time.Duration
	SessionTimeout     time.Duration
	KafkaOpts          []kgo.Opt
	Logger             *slog.Logger
	// OnSignals, when set, is called after each batch of closed windows is
	// stored (the alert engine evaluates there).
	OnSignals func(ctx context.Context, rows []chsink.SignalRow)
	// Now is the wall clock (tests).
	Now func() time.Time
}

// OverflowKey receives the partials of keys beyond MaxKeys.
var OverflowKey = window.Key{Tenant: "__overflow__", App: "__overflow__", Model: "__overflow__", Variant: "__overflow__"}

func (c *Config) setDefaults() {
	if c.Group == "" {
		c.Group = "sightline-aggregate"
	}
	if c.Topic == "" {
		c.Topic = broker.TopicPartials
	}
	if c.Window == 0 {
		c.Window = time.Minute
	}
	if c.Rollup == 0 {
		c.Rollup = time.Hour
	}
	if c.Lateness == 0 {
		c.Lateness = 30 * time.Second
	}
	if c.IdleClose == 0 {
		c.IdleClose = 10 * time.Second
	}
	if c.MaxKeys == 0 {
		c.MaxKeys = 10000
	}
	if c.KeyIdle == 0 {
		c.KeyIdle = time.Hour
	}
	if c.BaselineWindows == 0 {
		c.BaselineWindows = 10
	}
	if c.Baseline == "" {
		c.Baseline = "rolling"
	}
	if c.Control == "" {
		c.Control = "control"
	}
	if c.RetryMin == 0 {
		c.RetryMin = 100 * time.Millisecond
	}
	if c.RetryMax == 0 {
		c.RetryMax = 10 * time.Second
	}
	if c.SessionTimeout == 0 {
		c.SessionTimeout = 45 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

func (c *Config) validate() error {
	switch {
	case len(c.Brokers) == 0:
		return errors.New("invalid aggregate config: kafka.brokers is empty")
	case c.Window < time.Second || c.Window%time.Second != 0:
		return errors.New("invalid aggregate config: aggregate.window must be a whole number of seconds, at least 1s")
	case c.Rollup > 0 && (c.Rollup%c.Window != 0 || c.Rollup <= c.Window):
		return errors.New("invalid aggregate config: aggregate.rollup must be a multiple of aggregate.window")
	case c.Lateness < 0:
		return errors.New("invalid aggregate config: aggregate.lateness must not be negative")
	case c.MaxKeys < 1:
		return errors.New("invalid aggregate config: aggregate.max_keys must be at least 1")
	case c.BaselineWindows < 1 || c.BaselineWindows > 1000:
		return errors.New("invalid aggregate config: aggregate.baseline_windows must be in [1, 1000]")
	case c.Baseline != "rolling" && !strings.HasPrefix(c.Baseline, "pinned:") && !strings.HasPrefix(c.Baseline, "file:"):
		return fmt.Errorf("invalid aggregate config: aggregate.baseline must be rolling, pinned:NAME or file:PATH, got %q", c.Baseline)
	}
	return c.WindowConfig.Validate()
}

type winID struct {
	k     window.Key
	secs  uint32
	start int64
}

type openWin struct {
	p      *window.Partial
	minOff map[int32]int64
}

type rollKey struct {
	k    window.Key
	secs uint32
}

// Stage is a running aggregate stage.
type Stage struct {
	cfg  Config
	conn driver.Conn
	kcl  *kgo.Client
	m    *metrics

	ready atomic.Bool

	mu        sync.Mutex // guards the state below against the revoke callback
	open      map[winID]*openWin
	keys      map[window.Key]time.Time // tracked keys, last seen
	rolling   map[rollKey]*rolling
	watermark int64 // event time, unix seconds
	pendingWM int64 // the highest window end seen in the current poll
	lastSeen  time.Time
	exported  map[string]struct{}            // tenant/app pairs with signal gauges
	pinned    map[window.Key]*window.Partial // pinned baselines loaded so far (nil value: none stored)
	reference *window.Dataset                // file baseline
	consumed  map[int32]int64                // next offset per partition
	replayHi  map[int32]int64                // consumed position before the last restart
	dirty     bool
}

// New creates the stage.
func New(cfg Config, conn driver.Conn, reg prometheus.Registerer) (*Stage, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Stage{
		cfg: cfg, conn: conn, m: newMetrics(reg),
		open: map[winID]*openWin{}, keys: map[window.Key]time.Time{}, rolling: map[rollKey]*rolling{},
		consumed: map[int32]int64{}, replayHi: map[int32]int64{}, pinned: map[window.Key]*window.Partial{},
		exported: map[string]struct{}{},
	}
	if path, ok := strings.CutPrefix(cfg.Baseline, "file:"); ok {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("cannot open the reference file of aggregate.baseline: %w", err)
		}
		d, err := window.LoadJSONL(f, cfg.WindowConfig, cfg.ReferenceScore, window.LoadOptions{Split: func(ev *eventpb.Event) string {
			return keyName(KeyOf(ev))
		}})
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("cannot read the reference file of aggregate.baseline: %w", err)
		}
		if d.Events == 0 {
			return nil, fmt.Errorf("the reference file %s of aggregate.baseline holds no events", path)
		}
		var all *window.Partial
		for _, p := range d.Partials {
			c := p.Clone()
			c.Key = window.Key{}
			if all == nil {
				all = c
			} else if err := all.Merge(c); err != nil {
				return nil, fmt.Errorf("cannot merge the reference file: %w", err)
			}
		}
		d.Partials[""] = all
		s.reference = d
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(cfg.Topic),
		kgo.DisableAutoCommit(),
		kgo.SessionTimeout(cfg.SessionTimeout),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.BlockRebalanceOnPoll(),
		kgo.OnOffsetsFetched(s.onOffsetsFetched),
		kgo.OnPartitionsRevoked(s.onRevoked),
		kgo.OnPartitionsLost(s.onRevoked),
		kgo.ClientID("sightline-aggregate"),
	}
	opts = append(opts, cfg.KafkaOpts...)
	kcl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("cannot create kafka client: %w", err)
	}
	s.kcl = kcl
	return s, nil
}

// Ready reports whether the stage has joined its group and is consuming.
func (s *Stage) Ready() bool { return s.ready.Load() }

// commit metadata: "wm=<unix seconds>;hi=<next offset>".
func encodeMeta(wm, hi int64) string {
	return "wm=" + strconv.FormatInt(wm, 10) + ";hi=" + strconv.FormatInt(hi, 10)
}

func decodeMeta(s string) (wm, hi int64, ok bool) {
	var gotWM, gotHI bool
	for _, part := range strings.Split(s, ";") {
		k, v, _ := strings.Cut(part, "=")
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, 0, false
		}
		switch k {
		case "wm":
			wm, gotWM = n, true
		case "hi":
			hi, gotHI = n, true
		}
	}
	return wm, hi, gotWM && gotHI
}

func (s *Stage) onOffsetsFetched(_ context.Context, _ *kgo.Client, resp *kmsg.OffsetFetchResponse) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	visit := func(topic string, p int32, meta *string) {
		if topic != s.cfg.Topic || meta == nil {
			return
		}
		if wm, hi, ok := decodeMeta(*meta); ok {
			s.replayHi[p] = hi
			if wm > s.watermark {
				s.watermark = wm
			}
		}
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			visit(t.Topic, p.Partition, p.Metadata)
		}
	}
	for _, g := range resp.Groups {
		for _, t := range g.Topics {
			for _, p := range t.Partitions {
				visit(t.Topic, p.Partition, p.Metadata)
			}
		}
	}
	return nil
}

// onRevoked drops the state of partitions that moved away; their new owner
// rebuilds open windows from the committed offsets.
func (s *Stage) onRevoked(_ context.Context, _ *kgo.Client, revoked map[string][]int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	gone := map[int32]bool{}
	for _, p := range revoked[s.cfg.Topic] {
		gone[p] = true
		delete(s.consumed, p)
		delete(s.replayHi, p)
	}
	for id, w := range s.open {
		for p := range w.minOff {
			if gone[p] {
				delete(s.open, id)
				break
			}
		}
	}
	s.m.openWindows.Set(float64(len(s.open)))
}

// Run consumes until ctx ends.
func (s *Stage) Run(ctx context.Context) error {
	defer s.kcl.Close()
	for ctx.Err() == nil {
		pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		fetches := s.kcl.PollRecords(pctx, 2000)
		cancel()
		if fetches.IsClientClosed() {
			break
		}
		fetches.EachError(func(t string, p int32, err error) {
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				return
			}
			s.m.fetchErrors.Inc()
			s.cfg.Logger.Warn("kafka fetch error", "topic", t, "partition", p, "err", err)
		})
		s.ready.Store(true)
		s.mu.Lock()
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			if n := len(p.Records); n > 0 {
				s.m.lag.WithLabelValues(strconv.Itoa(int(p.Partition))).Set(float64(max(p.HighWatermark-(p.Records[n-1].Offset+1), 0)))
			}
		})
		fetches.EachRecord(s.ingest)
		if s.pendingWM > s.watermark {
			s.watermark = s.pendingWM
			s.m.watermark.Set(float64(s.watermark))
		}
		closed := s.dueLocked(s.cfg.Now())
		s.mu.Unlock()
		if len(closed) > 0 {
			if err := s.emit(ctx, closed); err != nil {
				break // ctx ended while retrying: the windows are rebuilt after restart
			}
		}
		if err := s.commit(ctx); err != nil && ctx.Err() == nil {
			s.cfg.Logger.Warn("cannot commit offsets; will retry", "err", err)
		}
		s.kcl.AllowRebalance()
	}
	s.ready.Store(false)
	s.kcl.AllowRebalance()
	lctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.kcl.LeaveGroupContext(lctx)
	return nil
}

func (s *Stage) ingest(r *kgo.Record) {
	s.consumed[r.Partition] = r.Offset + 1
	s.dirty = true
	p := new(window.Partial) // UnmarshalBinary replaces it whole
	if err := p.UnmarshalBinary(r.Value); err != nil {
		s.m.badPartials.Inc()
		return
	}
	s.lastSeen = s.cfg.Now()
	end := p.WindowStart + int64(p.WindowSeconds)
	replay := r.Offset < s.replayHi[r.Partition]
	if s.closedLocked(p.WindowStart, p.WindowSeconds) {
		if replay {
			s.m.replayed.Inc()
		} else {
			s.m.lateEvents.Add(float64(p.Count()))
			s.m.latePartials.Inc()
		}
		return
	}
	// The watermark is the latest event time seen (the partial's header;
	// its window end for partials without one), advanced after the whole
	// poll is merged: partials of one batch often cover several windows, in
	// any order.
	evTime := end
	for _, h := range r.Headers {
		if h.Key == HeaderMaxTS {
			if ms, err := strconv.ParseInt(string(h.Value), 10, 64); err == nil && ms/1000 < end {
				evTime = ms / 1000
			}
		}
	}
	if evTime > s.pendingWM {
		s.pendingWM = evTime
	}
	k := s.trackKeyLocked(p.Key)
	p.Key = k // the overflow key when the cap is reached
	s.mergeLocked(winID{k, p.WindowSeconds, p.WindowStart}, p, r)
	if roll := int64(s.cfg.Rollup / time.Second); roll > 0 {
		start := p.WindowStart - p.WindowStart%roll
		if !s.closedLocked(start, uint32(roll)) {
			// Merge widens nothing here: the hour window already covers
			// the minute window, so the partial merges in directly.
			s.mergeLocked(winID{k, uint32(roll), start}, p, r)
		}
	}
}

func (s *Stage) closedLocked(start int64, secs uint32) bool {
	return start+int64(secs)+int64(s.cfg.Lateness/time.Second) <= s.watermark
}

func (s *Stage) trackKeyLocked(k window.Key) window.Key {
	now := s.cfg.Now()
	if _, ok := s.keys[k]; ok {
		s.keys[k] = now
		return k
	}
	if len(s.keys) >= s.cfg.MaxKeys {
		s.m.overflow.Inc()
		s.keys[OverflowKey] = now
		return OverflowKey
	}
	s.keys[k] = now
	s.m.keys.Set(float64(len(s.keys)))
	return k
}

func (s *Stage) mergeLocked(id winID, p *window.Partial, r *kgo.Record) {
	w := s.open[id]
	if w == nil {
		w = &openWin{p: window.NewPartial(id.k, id.start, id.secs, s.cfg.WindowConfig), minOff: map[int32]int64{}}
		s.open[id] = w
		s.m.openWindows.Set(float64(len(s.open)))
	}
	if err := w.p.Merge(p); err != nil {
		s.m.badPartials.Inc()
		return
	}
	if o, ok := w.minOff[r.Partition]; !ok || r.Offset < o {
		w.minOff[r.Partition] = r.Offset
	}
}

// dueLocked removes and returns the windows that close now: on the event-
// time watermark, or on the wall clock when no partial arrived for a while.
func (s *Stage) dueLocked(now time.Time) []winID {
	limit := s.watermark
	if !s.lastSeen.IsZero() && now.Sub(s.lastSeen) >= s.cfg.IdleClose {
		// Quiet: advance the watermark with the wall clock (never backwards).
		if wall := now.Unix() - int64(s.cfg.Lateness/time.Second); wall > limit {
			limit = wall
		}
	} else if s.lastSeen.IsZero() && len(s.open) > 0 {
		limit = now.Unix() - int64(s.cfg.Lateness/time.Second)
	}
	if limit > s.watermark {
		s.watermark = limit
		s.m.watermark.Set(float64(limit))
	}
	var out []winID
	for id := range s.open {
		if s.closedLocked(id.start, id.secs) {
			out = append(out, id)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.start != b.start {
			return a.start < b.start
		}
		if a.secs != b.secs {
			return a.secs < b.secs
		}
		return keyLess(a.k, b.k)
	})
	return out
}

func keyLess(a, b window.Key) bool {
	if a.Tenant != b.Tenant {
		return a.Tenant < b.Tenant
	}
	if a.App != b.App {
		return a.App < b.App
	}
	if a.Model != b.Model {
		return a.Model < b.Model
	}
	return a.Variant < b.Variant
}

// emit computes and stores the signals of closed windows, then forgets them.
func (s *Stage) emit(ctx context.Context, ids []winID) error {
	s.mu.Lock()
	parts := make([]*window.Partial, 0, len(ids))
	for _, id := range ids {
		if w := s.open[id]; w != nil {
			parts = append(parts, w.p)
		}
	}
	s.mu.Unlock()
	var rows []chsink.SignalRow
	start := time.Now()
	for _, p := range parts {
		base, name, err := s.baseline(ctx, p)
		if err != nil {
			return err
		}
		for _, sig := range window.Signals(p, base, name, s.cfg.WindowConfig) {
			rows = append(rows, chsink.SignalRow{Key: p.Key, WindowStart: p.WindowStart, WindowSeconds: p.WindowSeconds, Signal: sig})
		}
	}
	rows = append(rows, s.compareVariants(parts)...)
	s.m.signalDuration.Observe(time.Since(start).Seconds())
	if err := s.retry(ctx, func(ctx context.Context) error { return chsink.InsertSignals(ctx, s.conn, rows) }); err != nil {
		return err
	}
	if err := s.retry(ctx, func(ctx context.Context) error { return chsink.InsertWindows(ctx, s.conn, parts) }); err != nil {
		return err
	}
	s.m.signals.Add(float64(len(rows)))
	s.exportSignals(rows)
	s.m.closed.Add(float64(len(parts)))
	s.mu.Lock()
	for _, p := range parts {
		rk := rollKey{p.Key, p.WindowSeconds}
		r := s.rolling[rk]
		if r == nil {
			r = newRolling(s.cfg.BaselineWindows, p.WindowSeconds)
			s.rolling[rk] = r
		}
		r.Add(p)
	}
	for _, id := range ids {
		delete(s.open, id)
	}
	s.forgetIdleKeysLocked()
	s.m.openWindows.Set(float64(len(s.open)))
	s.dirty = true
	s.mu.Unlock()
	if s.cfg.OnSignals != nil {
		s.cfg.OnSignals(ctx, rows)
	}
	return nil
}

func keyName(k window.Key) string { return k.Tenant + "/" + k.App + "/" + k.Model + "/" + k.Variant }

// maxSignalSeries bounds the tenant/app pairs of the signal gauges.
const maxSignalSeries = 200

// exportSignals updates the signal gauges from closed windows: the rate of
// each outcome per tenant and app over its models and variants (base
// windows only), and counts findings.
func (s *Stage) exportSignals(rows []chsink.SignalRow) {
	type ta struct{ tenant, app, outcome string }
	type acc struct{ x, n float64 }
	rates := map[ta]*acc{}
	minSecs := uint32(s.cfg.Window / time.Second)
	for _, r := range rows {
		sig := r.Signal
		if sig.Decision {
			switch {
			case sig.Metric == "drift":
				s.m.findings.WithLabelValues("drift").Inc()
			case sig.Metric == "bias":
				s.m.findings.WithLabelValues("bias").Inc()
			case strings.HasPrefix(sig.Metric, "ab_msprt"):
				s.m.findings.WithLabelValues("ab").Inc()
			}
		}
		if sig.Metric != "rate" || sig.Group != "" || r.WindowSeconds != minSecs || sig.N == 0 || sig.Value != sig.Value {
			continue
		}
		k := ta{r.Key.Tenant, r.Key.App, sig.Name}
		a := rates[k]
		if a == nil {
			a = &acc{}
			rates[k] = a
		}
		a.x += sig.Value * float64(sig.N)
		a.n += float64(sig.N)
	}
	for k, a := range rates {
		pair := k.tenant + "\x00" + k.app
		if _, ok := s.exported[pair]; !ok {
			if len(s.exported) >= maxSignalSeries {
				s.m.droppedSeries.Inc()
				continue
			}
			s.exported[pair] = struct{}{}
		}
		s.m.rates.WithLabelValues(k.tenant, k.app, k.outcome).Set(a.x / a.n)
	}
}

// baseline returns what a window's drift is measured against (see
// Config.Baseline). The rolling baseline is the previous K closed windows,
// loaded from llm_windows the first time a key is seen so a restart gives
// the same baseline.
func (s *Stage) baseline(ctx context.Context, p *window.Partial) (*window.Partial, string, error) {
	if s.reference != nil {
		if b := s.reference.Partials[keyName(p.Key)]; b != nil {
			return b, s.cfg.Baseline, nil
		}
		return s.reference.Partials[""], s.cfg.Baseline, nil
	}
	if name, ok := strings.CutPrefix(s.cfg.Baseline, "pinned:"); ok {
		s.mu.Lock()
		b, loaded := s.pinned[p.Key]
		s.mu.Unlock()
		if !loaded {
			if err := s.retry(ctx, func(ctx context.Context) error {
				var err error
				b, err = chsink.LoadBaseline(ctx, s.conn, name, p.Key)
				return err
			}); err != nil {
				return nil, "", err
			}
			s.mu.Lock()
			s.pinned[p.Key] = b
			s.mu.Unlock()
		}
		if b == nil {
			return nil, "", nil
		}
		return b, s.cfg.Baseline, nil
	}
	rk := rollKey{p.Key, p.WindowSeconds}
	s.mu.Lock()
	r := s.rolling[rk]
	if r == nil {
		r = newRolling(s.cfg.BaselineWindows, p.WindowSeconds)
		s.rolling[rk] = r
	}
	bb := r.baseBlock(p.WindowStart)
	known := r.Has(bb)
	s.mu.Unlock()
	if !known {
		// First use of this block by this process: load its windows.
		var prev []*window.Partial
		if err := s.retry(ctx, func(ctx context.Context) error {
			var err error
			prev, err = chsink.WindowsBetween(ctx, s.conn, p.Key, p.WindowSeconds, bb, bb+r.span())
			return err
		}); err != nil {
			return nil, "", err
		}
		var merged *window.Partial
		for _, w := range prev {
			if merged == nil {
				merged = w
			} else if err := merged.Merge(w); err != nil {
				continue
			}
		}
		s.mu.Lock()
		if !r.Has(bb) {
			r.Set(bb, merged)
		}
		s.mu.Unlock()
	}
	s.mu.Lock()
	base := r.Partial(p.WindowStart)
	s.mu.Unlock()
	if base == nil || base.Count() == 0 {
		return nil, "", nil
	}
	return base, fmt.Sprintf("rolling:%d", s.cfg.BaselineWindows), nil
}

// compareVariants runs the A/B comparison of every variant against the
// control for each (tenant, app, model, window) among the closed windows.
func (s *Stage) compareVariants(parts []*window.Partial) []chsink.SignalRow {
	type group struct {
		tenant, app, model string
		start              int64
		secs               uint32
	}
	groups := map[group][]*window.Partial{}
	for _, p := range parts {
		g := group{p.Key.Tenant, p.Key.App, p.Key.Model, p.WindowStart, p.WindowSeconds}
		groups[g] = append(groups[g], p)
	}
	var rows []chsink.SignalRow
	for _, ps := range groups {
		var control *window.Partial
		for _, p := range ps {
			if p.Key.Variant == s.cfg.Control {
				control = p
			}
		}
		if control == nil {
			continue
		}
		for _, p := range ps {
			if p == control {
				continue
			}
			for _, sig := range window.Compare(control, p, s.cfg.WindowConfig) {
				rows = append(rows, chsink.SignalRow{Key: p.Key, WindowStart: p.WindowStart, WindowSeconds: p.WindowSeconds, Signal: sig})
			}
		}
	}
	return rows
}

func (s *Stage) forgetIdleKeysLocked() {
	now := s.cfg.Now()
	busy := map[window.Key]bool{}
	for id := range s.open {
		busy[id.k] = true
	}
	for k, seen := range s.keys {
		if !busy[k] && now.Sub(seen) > s.cfg.KeyIdle {
			delete(s.keys, k)
			// A key has rolling baselines for the two window sizes only.
			delete(s.rolling, rollKey{k, uint32(s.cfg.Window / time.Second)})
			delete(s.rolling, rollKey{k, uint32(s.cfg.Rollup / time.Second)})
			delete(s.pinned, k)
		}
	}
	s.m.keys.Set(float64(len(s.keys)))
}

// commit commits, per partition, the first offset still needed by an open
// window (or the consumed position), with the watermark and the consumed
// position as metadata.
func (s *Stage) commit(ctx context.Context) error {
	s.mu.Lock()
	if !s.dirty {
		s.mu.Unlock()
		return nil
	}
	offsets := map[int32]int64{}
	for p, next := range s.consumed {
		offsets[p] = next
	}
	for _, w := range s.open {
		for p, o := range w.minOff {
			if cur, ok := offsets[p]; !ok || o < cur {
				offsets[p] = o
			}
		}
	}
	meta := map[int32]string{}
	epoch := map[string]map[int32]kgo.EpochOffset{s.cfg.Topic: {}}
	for p, o := range offsets {
		epoch[s.cfg.Topic][p] = kgo.EpochOffset{Epoch: -1, Offset: o}
		meta[p] = encodeMeta(s.watermark, s.consumed[p])
	}
	s.dirty = false
	s.mu.Unlock()
	if len(offsets) == 0 {
		return nil
	}
	cctx := kgo.PreCommitFnContext(ctx, func(req *kmsg.OffsetCommitRequest) error {
		for i := range req.Topics {
			for j := range req.Topics[i].Partitions {
				if m, ok := meta[req.Topics[i].Partitions[j].Partition]; ok {
					req.Topics[i].Partitions[j].Metadata = &m
				}
			}
		}
		return nil
	})
	var cerr error
	s.kcl.CommitOffsetsSync(cctx, epoch, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			cerr = err
			return
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if p.ErrorCode != 0 && cerr == nil {
					cerr = fmt.Errorf("commit of partition %d failed with error code %d", p.Partition, p.ErrorCode)
				}
			}
		}
	})
	if cerr != nil {
		s.mu.Lock()
		s.dirty = true
		s.mu.Unlock()
	}
	return cerr
}

func (s *Stage) retry(ctx context.Context, fn func(context.Context) error) error {
	return retry.Do(ctx, retry.Policy{Min: s.cfg.RetryMin, Max: s.cfg.RetryMax}, fn, func(attempt int, err error) {
		s.m.retries.Inc()
		if attempt == 0 || attempt%10 == 0 {
			s.cfg.Logger.Warn("retrying clickhouse", "attempt", attempt+1, "err", err)
		}
	})
}
