package aggregate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"slices"
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

	"github.com/sightline-dev/sightline/internal/retry"
	"github.com/sightline-dev/sightline/processors/internal/offsets"
	"github.com/sightline-dev/sightline/processors/window"
	"github.com/sightline-dev/sightline/schemas"
	"github.com/sightline-dev/sightline/schemas/eventpb"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

// Config of the aggregate stage. Zero values take the defaults.
type Config struct {
	Brokers []string `yaml:"-"`     // required
	Group   string   `yaml:"group"` // default "sightline-aggregate"
	Topic   string   `yaml:"-"`     // default sightline.partials
	// Window is the size of the partials the score stage emits (default 1m).
	Window time.Duration `yaml:"window"`
	// Rollup is the size of the rollup windows (default 1h; negative: none).
	Rollup time.Duration `yaml:"rollup"`
	// Lateness is how far behind the latest event time scored an event
	// may still arrive and be counted in its window as it is first
	// written (default 30s): a window closes once every events partition
	// that can still contribute to it has been scored past its end plus
	// the lateness (see the score stage's progress reports).
	Lateness time.Duration `yaml:"lateness"`
	// IdleClose: once every events partition has been scored to its end
	// with nothing appended for this long, windows close on the time of
	// that observation (their end plus the lateness), so quiet traffic
	// still gets its signals (default 10s). The score stage's clock
	// decides, not this stage's, so a restarted stage closes the same
	// windows.
	IdleClose time.Duration `yaml:"idle_close"`
	// CorrectionHorizon: a partial that arrives after its window was
	// written is merged into a corrected version of the window's rows if
	// the window ended less than this long before the watermark; older
	// ones are counted and dropped (default 6h).
	CorrectionHorizon time.Duration `yaml:"correction_horizon"`
	// LagInterval is how often the partials topic's end offsets are listed
	// for the lag gauges (default 1s).
	LagInterval time.Duration `yaml:"lag_interval"`
	// MaxKeys caps the tracked keys (tenant/app/model/variant); beyond it
	// new keys aggregate into one overflow key (default 10000).
	MaxKeys int `yaml:"max_keys"`
	// KeyIdle forgets a key with no open window after this long (default 1h).
	KeyIdle time.Duration `yaml:"key_idle"`
	// BaselineWindows is K of the rolling baseline: windows are grouped in
	// tumbling blocks of K aligned to K·window, and drift compares a window
	// with the previous complete block of its key (default 10).
	BaselineWindows int `yaml:"baseline_windows"`
	// Baseline selects what drift compares a window with: "rolling" (the
	// previous BaselineWindows windows of the key; default), "pinned:NAME"
	// (a baseline stored with `sightline baseline pin`), or "file:PATH" (a
	// reference file of events in their JSON form, per key when the file
	// has the key's events, else all of it).
	Baseline string `yaml:"baseline"`
	// ReferenceScore scores the events of a reference file (nil: as given).
	ReferenceScore window.ScoreFunc `yaml:"-"`
	// Control names the control variant of A/B comparisons (default
	// "control").
	Control string `yaml:"control"`
	// WindowConfig configures partials and signals.
	WindowConfig window.Config `yaml:"-"`
	// RetryMin and RetryMax bound the ClickHouse retry backoff.
	RetryMin       time.Duration `yaml:"retry_min"`
	RetryMax       time.Duration `yaml:"retry_max"`
	SessionTimeout time.Duration `yaml:"session_timeout"`
	// InstanceID, when set, makes the member a static group member
	// (group.instance.id): restarted within SessionTimeout it keeps its
	// partitions without a rebalance. Unique per instance.
	InstanceID string       `yaml:"instance_id"`
	KafkaOpts  []kgo.Opt    `yaml:"-"`
	Logger     *slog.Logger `yaml:"-"`
	// OnSignals, when set, is called after each batch of closed windows is
	// stored (the alert engine evaluates there).
	OnSignals func(ctx context.Context, rows []chsink.SignalRow) `yaml:"-"`
	// Now is the wall clock (tests).
	Now func() time.Time `yaml:"-"`
}

// OverflowKey receives the partials of keys beyond MaxKeys.
var OverflowKey = window.Key{Tenant: "__overflow__", App: "__overflow__", Model: "__overflow__", Variant: "__overflow__"}

// DefaultConfig is the aggregate stage's configuration with every default
// filled in (what `aggregate:` in the config file starts from).
func DefaultConfig() Config {
	var c Config
	c.setDefaults()
	c.Logger, c.Now = nil, nil
	return c
}

func (c *Config) setDefaults() {
	if c.Group == "" {
		c.Group = "sightline-aggregate"
	}
	if c.Topic == "" {
		c.Topic = schemas.TopicPartials
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
	if c.CorrectionHorizon == 0 {
		c.CorrectionHorizon = 6 * time.Hour
	}
	if c.LagInterval == 0 {
		c.LagInterval = time.Second
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
	if len(c.Brokers) == 0 {
		return errors.New("invalid aggregate config: kafka.brokers is empty")
	}
	if err := c.Validate(); err != nil {
		return err
	}
	return c.WindowConfig.Validate()
}

// Validate checks the settings of the config file's aggregate: section
// (after defaults), naming the key of anything wrong.
func (c *Config) Validate() error {
	switch {
	case c.Window < time.Second || c.Window%time.Second != 0:
		return errors.New("invalid aggregate config: aggregate.window must be a whole number of seconds, at least 1s")
	case c.Rollup > 0 && (c.Rollup%c.Window != 0 || c.Rollup <= c.Window):
		return errors.New("invalid aggregate config: aggregate.rollup must be a multiple of aggregate.window")
	case c.Lateness < 0:
		return errors.New("invalid aggregate config: aggregate.lateness must not be negative")
	case c.IdleClose < 0:
		return errors.New("invalid aggregate config: aggregate.idle_close must not be negative")
	case c.CorrectionHorizon < 0:
		return errors.New("invalid aggregate config: aggregate.correction_horizon must not be negative")
	case c.MaxKeys < 1:
		return errors.New("invalid aggregate config: aggregate.max_keys must be at least 1")
	case c.BaselineWindows < 1 || c.BaselineWindows > 1000:
		return errors.New("invalid aggregate config: aggregate.baseline_windows must be in [1, 1000]")
	case c.Baseline != "rolling" && !strings.HasPrefix(c.Baseline, "pinned:") && !strings.HasPrefix(c.Baseline, "file:"):
		return fmt.Errorf("invalid aggregate config: aggregate.baseline must be rolling, pinned:NAME or file:PATH, got %q", c.Baseline)
	}
	return nil
}

type winID struct {
	k     window.Key
	secs  uint32
	start int64
}

func (id winID) end() int64 { return id.start + int64(id.secs) }

type openWin struct {
	p      *window.Partial
	minOff map[int32]int64 // first offset per partials partition that fed it
}

type rollKey struct {
	k    window.Key
	secs uint32
}

// Stage is a running aggregate stage.
type Stage struct {
	cfg   Config
	conn  driver.Conn
	kcl   *kgo.Client
	m     *metrics
	watch *offsets.Watcher

	ready atomic.Bool

	mu        sync.Mutex // guards the state below against the group's callbacks
	parts     map[int32]*partState
	owned     map[int32]bool
	open      map[winID]*openWin
	late      map[winID]*window.Partial // late partials of written windows, merged per window, this poll
	keys      map[window.Key]time.Time  // tracked keys, last seen
	rolling   map[rollKey]*rolling
	exported  map[string]struct{}            // tenant/app pairs with signal gauges
	pinned    map[window.Key]*window.Partial // pinned baselines loaded so far (nil value: none stored)
	reference *window.Dataset                // file baseline
	lagParts  map[int32]bool
	dirty     bool

	ab abState // A/B experiments (experiment.go), used by Run's goroutine only
}

// New creates the stage.
func New(cfg Config, conn driver.Conn, reg prometheus.Registerer) (*Stage, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Stage{
		cfg: cfg, conn: conn, m: newMetrics(reg),
		parts: map[int32]*partState{}, owned: map[int32]bool{}, open: map[winID]*openWin{}, late: map[winID]*window.Partial{},
		keys: map[window.Key]time.Time{}, rolling: map[rollKey]*rolling{}, pinned: map[window.Key]*window.Partial{},
		exported: map[string]struct{}{}, lagParts: map[int32]bool{},
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
		kgo.OnPartitionsAssigned(s.onAssigned),
		kgo.OnPartitionsRevoked(s.onRevoked),
		kgo.OnPartitionsLost(s.onRevoked),
		kgo.ClientID("sightline-aggregate"),
	}
	if cfg.InstanceID != "" {
		opts = append(opts, kgo.InstanceID(cfg.InstanceID))
	}
	opts = append(opts, cfg.KafkaOpts...)
	kcl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("cannot create kafka client: %w", err)
	}
	s.kcl = kcl
	return s, nil
}

// Ready reports whether the stage is consuming and owns at least one
// partition of the partials topic (Status says why not).
func (s *Stage) Ready() bool { ok, _ := s.Status(); return ok }

// Status is Ready with the reason when not ready.
func (s *Stage) Status() (bool, string) {
	if !s.ready.Load() {
		return false, "not consuming (starting, stopping or failed)"
	}
	s.mu.Lock()
	n := len(s.owned)
	s.mu.Unlock()
	if n == 0 {
		return false, "owns no partition of " + s.cfg.Topic + " (the group's other members have them all, or a rebalance is under way)"
	}
	return true, ""
}

func (s *Stage) partLocked(p int32) *partState {
	ps := s.parts[p]
	if ps == nil {
		ps = newPartState()
		s.parts[p] = ps
	}
	return ps
}

func (s *Stage) onOffsetsFetched(_ context.Context, _ *kgo.Client, resp *kmsg.OffsetFetchResponse) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	visit := func(topic string, p int32, meta *string) {
		if topic != s.cfg.Topic || meta == nil {
			return
		}
		if wm, hi, ok := decodeMeta(*meta); ok {
			ps := s.partLocked(p)
			ps.replayHi = hi
			ps.wm = max(ps.wm, wm)
			ps.closed = max(ps.closed, wm)
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

func (s *Stage) onAssigned(_ context.Context, _ *kgo.Client, assigned map[string][]int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range assigned[s.cfg.Topic] {
		s.owned[p] = true
		s.partLocked(p)
	}
	s.m.assigned.Set(float64(len(s.owned)))
}

// onRevoked drops the state of partitions that moved away; their new owner
// rebuilds open windows from the committed offsets.
func (s *Stage) onRevoked(_ context.Context, _ *kgo.Client, revoked map[string][]int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	gone := map[int32]bool{}
	for _, p := range revoked[s.cfg.Topic] {
		gone[p] = true
		delete(s.parts, p)
		delete(s.owned, p)
	}
	for id, w := range s.open {
		for p := range w.minOff {
			if gone[p] {
				delete(s.open, id)
				break
			}
		}
	}
	// Rolling baselines of keys on those partitions are dropped too: the
	// new owner closes their next windows, so kept blocks would lack them
	// if the partition came back; recreated, they are loaded again.
	for rk, r := range s.rolling {
		for p := range r.parts {
			if gone[p] {
				delete(s.rolling, rk)
				break
			}
		}
	}
	s.m.openWindows.Set(float64(len(s.open)))
	s.m.assigned.Set(float64(len(s.owned)))
}

// updateLag sets the lag gauges from the latest offsets listing: the end
// offset a read_committed consumer can reach minus the consumed position,
// and minus the committed offset (which trails by the open windows' partials
// by design).
func (s *Stage) updateLag() {
	l := s.watch.Last(s.cfg.Topic)
	if l == nil {
		return
	}
	committed := map[int32]int64{}
	for p, eo := range s.kcl.CommittedOffsets()[s.cfg.Topic] {
		committed[p] = eo.Offset
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[int32]bool{}
	for p := range s.owned {
		end, ok := l.End[p]
		if !ok {
			continue
		}
		pos := l.Start[p]
		c, hasCommit := committed[p]
		if hasCommit {
			pos = c
		}
		commitLag := max(end-pos, 0)
		if ps := s.parts[p]; ps != nil && ps.consumed >= 0 {
			pos = ps.consumed
		}
		label := strconv.Itoa(int(p))
		s.m.lag.WithLabelValues(label).Set(float64(max(end-pos, 0)))
		s.m.commitLag.WithLabelValues(label).Set(float64(commitLag))
		seen[p] = true
	}
	for p := range s.lagParts {
		if !seen[p] {
			label := strconv.Itoa(int(p))
			s.m.lag.DeleteLabelValues(label)
			s.m.commitLag.DeleteLabelValues(label)
		}
	}
	s.lagParts = seen
}

// Run consumes until ctx ends.
func (s *Stage) Run(ctx context.Context) error {
	defer s.kcl.Close()
	s.watch = offsets.Start(s.kcl, offsets.Config{Interval: s.cfg.LagInterval, OnListing: s.updateLag}, s.cfg.Topic)
	defer s.watch.Close()
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
		fetches.EachRecord(s.ingest)
		closed := s.dueLocked()
		s.mu.Unlock()
		if err := s.emit(ctx, closed); err != nil {
			break // ctx ended while retrying: the windows are rebuilt after restart
		}
		if err := s.correct(ctx); err != nil {
			break // likewise: the late partials are read again after restart
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

func isProgress(r *kgo.Record) bool {
	return len(r.Headers) > 0 && r.Headers[0].Key == window.HeaderProgress
}

func (s *Stage) ingest(r *kgo.Record) {
	ps := s.partLocked(r.Partition)
	ps.consumed = r.Offset + 1
	s.dirty = true
	if isProgress(r) {
		rep, err := window.UnmarshalProgress(r.Value)
		if err != nil {
			s.m.badPartials.Inc()
			return
		}
		ps.report(rep)
		return
	}
	p := new(window.Partial) // UnmarshalBinary replaces it whole
	if err := p.UnmarshalBinary(r.Value); err != nil {
		s.m.badPartials.Inc()
		return
	}
	k := s.trackKeyLocked(p.Key)
	p.Key = k // the overflow key when the cap is reached
	s.placeLocked(winID{k, p.WindowSeconds, p.WindowStart}, p, r, ps)
	if roll := int64(s.cfg.Rollup / time.Second); roll > 0 {
		// The rollup window covers the partial's window, so the partial
		// merges into it directly.
		s.placeLocked(winID{k, uint32(roll), p.WindowStart - mod(p.WindowStart, roll)}, p, r, ps)
	}
}

func mod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

func (s *Stage) lateness() int64 { return int64(s.cfg.Lateness / time.Second) }

// placeLocked merges a partial into its open window; a partial of a window
// already written is a replay after a restart (skipped) or late (merged
// into a corrected version of the window, within the correction horizon).
func (s *Stage) placeLocked(id winID, p *window.Partial, r *kgo.Record, ps *partState) {
	if w := s.open[id]; w != nil {
		s.mergeLocked(w, p, r)
		return
	}
	if id.end()+s.lateness() > ps.closed {
		w := &openWin{p: window.NewPartial(id.k, id.start, id.secs, s.cfg.WindowConfig), minOff: map[int32]int64{}}
		s.open[id] = w
		s.m.openWindows.Set(float64(len(s.open)))
		s.mergeLocked(w, p, r)
		return
	}
	if r.Offset < ps.replayHi {
		s.m.replayed.Inc()
		return
	}
	s.m.latePartials.Inc()
	s.m.lateEvents.Add(float64(p.Count()))
	if id.end()+s.lateness() <= ps.closed-int64(s.cfg.CorrectionHorizon/time.Second) {
		s.m.lateDropped.Add(float64(p.Count()))
		return
	}
	if l := s.late[id]; l != nil {
		if err := l.Merge(p); err != nil {
			s.m.badPartials.Inc()
		}
		return
	}
	c := window.NewPartial(id.k, id.start, id.secs, s.cfg.WindowConfig)
	if err := c.Merge(p); err != nil {
		s.m.badPartials.Inc()
		return
	}
	s.late[id] = c
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

func (s *Stage) mergeLocked(w *openWin, p *window.Partial, r *kgo.Record) {
	if err := w.p.Merge(p); err != nil {
		s.m.badPartials.Inc()
		return
	}
	if o, ok := w.minOff[r.Partition]; !ok || r.Offset < o {
		w.minOff[r.Partition] = r.Offset
	}
}

// dueLocked advances the watermarks from the progress reports read and
// returns the open windows that close now: those every partials partition
// that fed them has passed (end plus lateness).
func (s *Stage) dueLocked() []winID {
	lowest := int64(math.MaxInt64)
	for p, ps := range s.parts {
		ps.advance(s.cfg.IdleClose)
		if s.owned[p] && ps.wm < lowest {
			lowest = ps.wm
		}
	}
	if lowest != math.MaxInt64 && lowest != math.MinInt64 {
		s.m.watermark.Set(float64(lowest))
	}
	var out []winID
	for id, w := range s.open {
		due := len(w.minOff) > 0
		for p := range w.minOff {
			if ps := s.parts[p]; ps == nil || id.end()+s.lateness() > ps.wm {
				due = false
				break
			}
		}
		if due {
			out = append(out, id)
		}
	}
	sort.Slice(out, func(i, j int) bool { return idLess(out[i], out[j]) })
	return out
}

func idLess(a, b winID) bool {
	if a.start != b.start {
		return a.start < b.start
	}
	if a.secs != b.secs {
		return a.secs < b.secs
	}
	return keyLess(a.k, b.k)
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

// emit computes and stores the signals of closed windows, then forgets
// them; the partitions' written watermarks advance once they are stored.
//
// Several windows of one key can close in one call (catch-up after a
// restart, a jump of the watermark, a replay): they are taken in order of
// their start, and each one's baseline holds the earlier ones as if they
// had closed one call at a time (pendingBlocks), so the rows do not depend
// on how windows were batched. The rolling baselines themselves advance
// only once the whole batch is stored, in one store call.
func (s *Stage) emit(ctx context.Context, ids []winID) error {
	ids = slices.Clone(ids)
	sort.SliceStable(ids, func(i, j int) bool { return idLess(ids[i], ids[j]) })
	s.mu.Lock()
	parts := make([]*window.Partial, 0, len(ids))
	for _, id := range ids {
		if w := s.open[id]; w != nil {
			parts = append(parts, w.p)
		}
	}
	s.mu.Unlock()
	if len(parts) > 0 {
		var pend *pendingBlocks
		if s.cfg.Baseline == "rolling" {
			pend = newPendingBlocks()
		}
		rows, err := s.signalRows(ctx, parts, parts, false, pend)
		if err != nil {
			return err
		}
		if err := s.store(ctx, rows, parts, time.Time{}); err != nil {
			return err
		}
		s.exportSignals(rows)
		s.m.closed.Add(float64(len(parts)))
		s.mu.Lock()
		for _, id := range ids {
			if w := s.open[id]; w != nil {
				r := s.rollingLocked(w.p.Key, w.p.WindowSeconds)
				r.Add(w.p)
				for part := range w.minOff {
					r.parts[part] = true
				}
			}
			delete(s.open, id)
		}
		s.forgetIdleKeysLocked()
		s.m.openWindows.Set(float64(len(s.open)))
		s.mu.Unlock()
		if s.cfg.OnSignals != nil {
			s.cfg.OnSignals(ctx, rows)
		}
	}
	s.mu.Lock()
	for _, ps := range s.parts {
		if ps.wm > ps.closed {
			ps.closed = ps.wm
			s.dirty = true
		}
	}
	s.mu.Unlock()
	return nil
}

func (s *Stage) rollingLocked(k window.Key, secs uint32) *rolling {
	rk := rollKey{k, secs}
	r := s.rolling[rk]
	if r == nil {
		r = newRolling(s.cfg.BaselineWindows, secs)
		s.rolling[rk] = r
	}
	return r
}

// signalRows computes the signals of parts (with their baselines) and the
// A/B comparisons among group (parts plus, for corrections, the other
// variants of their windows). With pend (closing windows), parts are in
// order of their start and each is added to pend once computed, so the
// later windows of its key are compared with a baseline that holds it;
// corrections add their late partials themselves.
func (s *Stage) signalRows(ctx context.Context, parts, group []*window.Partial, corrected bool, pend *pendingBlocks) ([]chsink.SignalRow, error) {
	var rows []chsink.SignalRow
	start := time.Now()
	for _, p := range parts {
		base, name, err := s.baseline(ctx, p, pend)
		if err != nil {
			return nil, err
		}
		for _, sig := range window.Signals(p, base, name, s.cfg.WindowConfig) {
			rows = append(rows, chsink.SignalRow{Key: p.Key, WindowStart: p.WindowStart, WindowSeconds: p.WindowSeconds, Signal: sig, Corrected: corrected})
		}
		if pend.closing() {
			s.mu.Lock()
			pend.add(s.rollingLocked(p.Key, p.WindowSeconds), p)
			s.mu.Unlock()
		}
	}
	mine := map[*window.Partial]bool{}
	for _, p := range parts {
		mine[p] = true
	}
	ab, err := s.compareVariants(ctx, group, mine, corrected)
	if err != nil {
		return nil, err
	}
	rows = append(rows, ab...)
	s.m.signalDuration.Observe(time.Since(start).Seconds())
	return rows, nil
}

// store writes signal rows and windows' merged partials (version: the
// rows' computed_at; zero is now).
func (s *Stage) store(ctx context.Context, rows []chsink.SignalRow, parts []*window.Partial, version time.Time) error {
	if err := s.retry(ctx, func(ctx context.Context) error { return chsink.InsertSignals(ctx, s.conn, rows) }); err != nil {
		return err
	}
	if err := s.retry(ctx, func(ctx context.Context) error { return chsink.InsertWindows(ctx, s.conn, parts, version) }); err != nil {
		return err
	}
	s.m.signals.Add(float64(len(rows)))
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
// the same baseline, plus the windows of the batch in pend (emit), or the
// late partials of the windows corrected before it in the same batch
// (correct), that belong to it. The first window closed for a key (emit) also
// loads the windows of its own block that closed before it, in the same
// query, so the block the next one is compared with is complete too.
func (s *Stage) baseline(ctx context.Context, p *window.Partial, pend *pendingBlocks) (*window.Partial, string, error) {
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
	r := s.rollingLocked(p.Key, p.WindowSeconds)
	bb, cb := r.baseBlock(p.WindowStart), r.blockOf(p.WindowStart)
	// A block the batch added windows to is one rolling.Add would have
	// built had they closed one at a time: not loaded either. (Late
	// partials do not build a block.)
	known := r.Has(bb) || (pend.closing() && pend.has(rk, bb))
	// Once per key and process (or assignment): the windows of the block
	// being filled that closed before this one. Later windows of the key
	// are added as they close; windows from p on are never loaded, even if
	// stored before a restart, since they are closed (again) here.
	fill := pend.closing() && !r.filled
	s.mu.Unlock()
	if !known || fill {
		from, to := bb, cb
		if known {
			from = cb
		}
		if fill {
			to = p.WindowStart
		}
		var prev []*window.Partial
		if from < to {
			if err := s.retry(ctx, func(ctx context.Context) error {
				var err error
				prev, err = chsink.WindowsBetween(ctx, s.conn, p.Key, p.WindowSeconds, from, to)
				return err
			}); err != nil {
				return nil, "", err
			}
		}
		// In order of their start, as rolling.Add merges them.
		var base, cur *window.Partial
		for _, w := range prev {
			m := &base
			if w.WindowStart >= cb {
				m = &cur
			}
			if *m == nil {
				*m = w
			} else if err := (*m).Merge(w); err != nil {
				continue
			}
		}
		s.mu.Lock()
		if !known && !r.Has(bb) {
			r.Set(bb, base)
		}
		if fill && !r.filled {
			r.Set(cb, cur)
			r.filled = true
		}
		s.mu.Unlock()
	}
	s.mu.Lock()
	base := pend.partial(r, rk, p.WindowStart)
	s.mu.Unlock()
	if base == nil || base.Count() == 0 {
		return nil, "", nil
	}
	return base, fmt.Sprintf("rolling:%d", s.cfg.BaselineWindows), nil
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

// commit commits, per partials partition, the first offset still needed by
// an open window (or the consumed position), with the written watermark and
// the consumed position as metadata.
func (s *Stage) commit(ctx context.Context) error {
	s.mu.Lock()
	if !s.dirty {
		s.mu.Unlock()
		return nil
	}
	offsets := map[int32]int64{}
	for p, ps := range s.parts {
		if ps.consumed >= 0 && s.owned[p] {
			offsets[p] = ps.consumed
		}
	}
	for _, w := range s.open {
		for p, o := range w.minOff {
			if cur, ok := offsets[p]; ok && o < cur {
				offsets[p] = o
			}
		}
	}
	meta := map[int32]string{}
	epoch := map[string]map[int32]kgo.EpochOffset{s.cfg.Topic: {}}
	for p, o := range offsets {
		ps := s.parts[p]
		epoch[s.cfg.Topic][p] = kgo.EpochOffset{Epoch: -1, Offset: o}
		meta[p] = encodeMeta(ps.closed, ps.consumed)
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
