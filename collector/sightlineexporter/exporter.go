package sightlineexporter

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/sightline-dev/sightline/schemas"
	"github.com/sightline-dev/sightline/schemas/eventpb"
	"github.com/sightline-dev/sightline/schemas/kafkaconf"
)

// sightlineExporter turns a batch into events and produces them, one
// protobuf record per event, no key, to the configured topic. A push
// returns once every record is acknowledged; an error makes exporterhelper
// retry the whole batch, which is safe because event ids are derived from
// trace and span ids.
//
// One sightlineExporter serves both pipelines (traces and logs) an
// exporter of one component ID is in: the collector creates one exporter
// per pipeline type, and the two share this value (see sharedExporters)
// so a call's span and log events can be joined. It starts with the first
// of them and shuts down with the last.
type sightlineExporter struct {
	cfg    *Config
	logger *zap.Logger
	tel    *telemetry
	tr     translator
	kcl    *kgo.Client
	bufs   sync.Pool // *encodeBuf
	arenas sync.Pool // *arena
	// send produces events; produce, or a recorder in tests.
	send func(context.Context, []*eventpb.Event) error

	mu             sync.Mutex // guards the lifecycle fields below
	refs           int        // exporterhelper instances not shut down
	closing        bool       // the last of them is shutting down
	started        bool
	traces, logs   bool   // the pipelines it is in
	unshare        func() // forgets it in the factory's shared map
	join           *joiner
	flushDone      chan struct{}
	joinRun        context.Context // cancelled at shutdown
	joinRunCancel  context.CancelFunc
	unobserve      func()
	flushTimeout   time.Duration
	flushErrLogged time.Time
}

func newExporter(cfg *Config, set exporter.Settings) (*sightlineExporter, error) {
	tel, err := newTelemetry(set.TelemetrySettings.MeterProvider)
	if err != nil {
		return nil, err
	}
	e := &sightlineExporter{
		cfg:    cfg,
		logger: set.Logger,
		tel:    tel,
		tr:     translator{tenant: cfg.Tenant, tel: tel},
	}
	e.send = e.produce
	return e, nil
}

// Stats returns the exporter's counters.
func (e *sightlineExporter) Stats() Stats { return e.tel.stats() }

// start starts the exporter with the first of its pipelines.
func (e *sightlineExporter) start(ctx context.Context, _ component.Host) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.started {
		return nil
	}
	opts, err := kafkaOpts(ctx, e.cfg, e.logger)
	if err != nil {
		return err
	}
	kcl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("cannot create kafka client for brokers %v: %w", e.cfg.Brokers, err)
	}
	e.kcl = kcl
	e.started = true
	if e.cfg.Join.Wait > 0 && e.traces && e.logs {
		if err := e.startJoin(); err != nil {
			kcl.Close()
			e.kcl, e.started = nil, false
			return err
		}
	}
	return nil
}

// startJoin turns joining on and starts the flusher, which produces the
// calls whose wait ended. Callers hold e.mu, before any push.
func (e *sightlineExporter) startJoin() error {
	e.enableJoin()
	unobserve, err := e.tel.observeJoin(e.join.pending)
	if err != nil {
		e.join, e.tr.keepFinish = nil, false
		return err
	}
	e.unobserve = unobserve
	e.joinRun, e.joinRunCancel = context.WithCancel(context.Background())
	e.flushDone = make(chan struct{})
	go e.flushLoop()
	return nil
}

// enableJoin makes pushes go through a joiner; the caller produces its
// ready calls (flushReady).
func (e *sightlineExporter) enableJoin() {
	e.join = newJoiner(e.cfg.Join, e.tel, e.cfg.Tenant)
	e.tr.keepFinish = true
	e.flushTimeout = e.cfg.Timeout
	if e.flushTimeout <= 0 {
		e.flushTimeout = 5 * time.Second
	}
}

// shutdown shuts the exporter down with the last of its pipelines: calls
// still waiting to be joined are produced first, then the client closes.
func (e *sightlineExporter) shutdown(ctx context.Context) error {
	e.mu.Lock()
	e.refs--
	last := e.refs == 0
	e.closing = last
	e.mu.Unlock()
	if !last {
		return nil
	}
	// Without e.mu: acquire takes the factory's lock, then e.mu.
	if e.unshare != nil {
		e.unshare()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var err error
	if e.join != nil {
		e.joinRunCancel()
		<-e.flushDone
		err = e.flushPending(ctx)
		e.unobserve()
	}
	if e.kcl != nil {
		e.kcl.Close() // every push waited for its records: nothing is buffered
	}
	return err
}

// flushLoop produces the joiner's ready calls: when it signals some, and
// every tick for those whose wait ended. It returns when joinRun is
// cancelled.
func (e *sightlineExporter) flushLoop() {
	defer close(e.flushDone)
	t := time.NewTicker(e.join.tick())
	defer t.Stop()
	for {
		select {
		case <-e.joinRun.Done():
			return
		case <-t.C:
		case <-e.join.wake:
		}
		if err := e.flushReady(e.joinRun); err != nil && e.joinRun.Err() == nil &&
			time.Since(e.flushErrLogged) > 30*time.Second && e.logger != nil {
			// The calls stay ready and are retried at the next tick.
			e.flushErrLogged = time.Now()
			e.logger.Warn("cannot produce joined calls; retrying", zap.Error(err))
		}
	}
}

// flushBatch is how many joined calls one produce carries.
const flushBatch = 512

// flushReady produces the calls whose wait ended, until none is left or
// producing fails (they are then retried).
func (e *sightlineExporter) flushReady(ctx context.Context) error {
	e.join.expire()
	var evs []*eventpb.Event
	for {
		batch := e.join.take(flushBatch)
		if len(batch) == 0 {
			return nil
		}
		evs = evs[:0]
		for _, je := range batch {
			if ev := e.join.finalize(je); ev != nil {
				evs = append(evs, ev)
			}
		}
		sctx, cancel := context.WithTimeout(ctx, e.flushTimeout)
		err := e.send(sctx, evs)
		cancel()
		e.join.settle(batch, err == nil)
		if err != nil {
			return err
		}
	}
}

// flushPending produces every call still waiting or ready, at shutdown.
// What the brokers refuse until ctx ends (or twice the exporter's timeout,
// at least 10s: the collector shuts down without a deadline) is dropped
// and counted.
func (e *sightlineExporter) flushPending(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, max(2*e.flushTimeout, 10*time.Second))
	defer cancel()
	e.join.flushAll()
	for {
		err := e.flushReady(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			waiting, ready := e.join.pending()
			e.tel.dropMany(dropShutdown, waiting+ready)
			return fmt.Errorf("cannot produce %d calls held for joining at shutdown (check that brokers %v are reachable): %w",
				waiting+ready, e.cfg.Brokers, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// kafkaOpts turns the configuration into franz-go options.
func kafkaOpts(ctx context.Context, cfg *Config, logger *zap.Logger) ([]kgo.Opt, error) {
	codec := map[string]kgo.CompressionCodec{
		"none": kgo.NoCompression(), "gzip": kgo.GzipCompression(), "snappy": kgo.SnappyCompression(),
		"lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression(),
	}[cfg.Compression]
	opts := []kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.DefaultProduceTopic(cfg.Topic),
		kgo.ClientID(cfg.ClientID),
		kgo.ProducerBatchCompression(codec, kgo.NoCompression()),
		// One event plus the record and batch headers must fit a batch.
		kgo.ProducerBatchMaxBytes(int32(cfg.MaxEventBytes + 1024)),
	}
	if logger != nil {
		opts = append(opts, kgo.WithLogger(zapLogger{logger.Named("kafka")}))
	}
	k := cfg.kafka()
	sec, err := k.Opts()
	if err != nil {
		return nil, err
	}
	if k.Secured() {
		// A refused password or certificate fails the collector's start
		// naming the setting, instead of every batch retrying forever.
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := k.Check(cctx)
		cancel()
		if err != nil {
			if !errors.Is(err, kafkaconf.ErrUnreachable) {
				return nil, err
			}
			if logger != nil {
				logger.Warn("kafka brokers do not answer yet; batches are retried", zap.Strings("brokers", cfg.Brokers), zap.Error(err))
			}
		}
	}
	return append(opts, sec...), nil
}

func (e *sightlineExporter) pushTraces(ctx context.Context, td ptrace.Traces) error {
	a := e.arena()
	defer e.release(a)
	a.out = e.tr.tracesIn(a, td, a.out[:0])
	stampKeyTenant(ctx, a.out)
	if e.join == nil {
		return e.send(ctx, a.out)
	}
	// Filtered in place: offerSpans reads each event before it may write
	// its slot.
	var direct []*eventpb.Event
	direct, a.keys = e.join.offerSpans(a.out, a.out[:0], a.keys[:0])
	err := e.send(ctx, direct)
	if err != nil {
		e.join.forget(a.keys)
	}
	return err
}

func (e *sightlineExporter) pushLogs(ctx context.Context, ld plog.Logs) error {
	a := e.arena()
	defer e.release(a)
	if e.join == nil {
		a.out = e.tr.logsIn(a, ld, a.out[:0])
		stampKeyTenant(ctx, a.out)
		return e.send(ctx, a.out)
	}
	t := e.tr.withArena(a)
	out := a.out[:0]
	var parts []*logPart
	for _, g := range t.logGroups(ld) {
		ev, promptSrc, complSrc := t.logEvent(g)
		if kt := senderTenant(ctx); kt != "" {
			ev.Tenant = kt
		}
		if g.traceID.IsEmpty() || g.spanID.IsEmpty() {
			// Nothing ties these records to a span: a call of their own.
			if t.finish(ev) {
				out = append(out, ev)
			}
			continue
		}
		parts = append(parts, &logPart{ev: own(ev), promptSrc: promptSrc, complSrc: complSrc,
			first: g.first, last: g.last, traceID: g.traceID, spanID: g.spanID, records: g.records})
	}
	a.out, a.keys = e.join.offerLogs(parts, out, a.keys[:0])
	err := e.send(ctx, a.out)
	if err != nil {
		e.join.forget(a.keys)
	}
	return err
}

// senderTenant is the tenant of the API key that sent the data in ctx: the
// sightlineauth extension puts it in the client info (Auth attribute
// "tenant", and metadata x-sightline-tenant, which a batch processor with
// metadata_keys: [x-sightline-tenant] keeps). "" when no key let the data
// in. Read here by name: importing the extension would link the key
// stores into every build of this exporter.
func senderTenant(ctx context.Context) string {
	info := client.FromContext(ctx)
	if info.Auth != nil {
		if t, ok := info.Auth.GetAttribute("tenant").(string); ok && t != "" {
			return t
		}
	}
	if v := info.Metadata.Get("x-sightline-tenant"); len(v) == 1 {
		return v[0]
	}
	return ""
}

// stampKeyTenant stores every event under the key's tenant, whatever
// tenant its resource or span claims (sightline.tenant): the key decides
// the tenant, never the payload.
func stampKeyTenant(ctx context.Context, evs []*eventpb.Event) {
	if kt := senderTenant(ctx); kt != "" {
		for _, ev := range evs {
			ev.Tenant = kt
		}
	}
}

// arena returns an arena for one push.
func (e *sightlineExporter) arena() *arena {
	if a, ok := e.arenas.Get().(*arena); ok {
		return a
	}
	return &arena{}
}

// release returns a push's arena once produce has returned: every event
// is encoded and every record acknowledged or failed, so nothing refers
// to it any more.
func (e *sightlineExporter) release(a *arena) {
	a.reset()
	e.arenas.Put(a)
}

// encodeBuf holds one push's encoded events and records, reused across
// pushes: all records of a push share one byte slice.
type encodeBuf struct {
	b      []byte
	bounds []int
	recs   []kgo.Record
	ptrs   []*kgo.Record
}

// maxPooledBytes keeps an unusually large push from pinning its buffer.
const maxPooledBytes = 4 << 20

// produce encodes evs and produces them, waiting until every record is
// acknowledged. Splitting a push into chunks sent while the next is
// translated was measured: no faster on the 2-core machine the figures
// come from (a goroutine woken on the idle core starts about 100 us
// later there), so a push is one ProduceSync.
func (e *sightlineExporter) produce(ctx context.Context, evs []*eventpb.Event) error {
	if len(evs) == 0 {
		return nil
	}
	if e.kcl == nil {
		return errors.New("sightline exporter is not started")
	}
	eb, _ := e.bufs.Get().(*encodeBuf)
	if eb == nil {
		eb = &encodeBuf{}
	}
	defer func() {
		if cap(eb.b) <= maxPooledBytes {
			clear(eb.recs)
			e.bufs.Put(eb)
		}
	}()
	eb.b, eb.bounds = encode(eb.b[:0], eb.bounds[:0], evs, e.cfg.MaxEventBytes, e.tel)
	n := len(eb.bounds) / 2
	if n == 0 {
		return nil
	}
	if cap(eb.recs) < n {
		eb.recs = make([]kgo.Record, n)
		eb.ptrs = make([]*kgo.Record, n)
	}
	eb.recs, eb.ptrs = eb.recs[:n], eb.ptrs[:n]
	for i := 0; i < n; i++ {
		eb.recs[i] = kgo.Record{Topic: e.cfg.Topic, Value: eb.b[eb.bounds[2*i]:eb.bounds[2*i+1]]}
		eb.ptrs[i] = &eb.recs[i]
	}
	var (
		failed   int
		firstErr error
	)
	for _, r := range e.kcl.ProduceSync(ctx, eb.ptrs...) {
		if r.Err != nil {
			failed++
			if firstErr == nil {
				firstErr = r.Err
			}
		}
	}
	e.tel.producedEvents(n - failed)
	if firstErr != nil {
		err := fmt.Errorf("cannot produce %d of %d events to topic %s (check that brokers %v are reachable): %w",
			failed, n, e.cfg.Topic, e.cfg.Brokers, firstErr)
		if errors.Is(firstErr, kerr.MessageTooLarge) || errors.Is(firstErr, kerr.TopicAuthorizationFailed) {
			return consumererror.NewPermanent(err)
		}
		return err
	}
	return nil
}

// encode appends the protobuf form of each event to b and the start and
// end offset of each to bounds. An event over maxBytes has its content cut
// until it fits; one that cannot be made to fit, or cannot be encoded, is
// dropped and counted.
func encode(b []byte, bounds []int, evs []*eventpb.Event, maxBytes int, tel *telemetry) ([]byte, []int) {
	for _, ev := range evs {
		start := len(b)
		var err error
		b, err = marshalEvent(b, ev)
		if err != nil {
			b = b[:start]
			tel.drop(dropInvalidEvent)
			continue
		}
		if len(b)-start > maxBytes {
			b = b[:start]
			if !shrink(ev, maxBytes) {
				tel.drop(dropTooLarge)
				continue
			}
			tel.issue(issueTruncated)
			if b, err = marshalEvent(b, ev); err != nil {
				b = b[:start]
				tel.drop(dropInvalidEvent)
				continue
			}
		}
		bounds = append(bounds, start, len(b))
	}
	return b, bounds
}

// shrink cuts every content field to a shrinking limit until ev encodes
// within maxBytes, keeping all other fields. It reports whether it fits.
func shrink(ev *eventpb.Event, maxBytes int) bool {
	limit := schemas.MaxContentBytes
	for proto.Size(ev) > maxBytes {
		if limit == 0 {
			return false
		}
		limit /= 4
		cutContent(ev, limit)
		ev.Truncated = true
	}
	return true
}

func cutContent(ev *eventpb.Event, limit int) {
	for _, m := range ev.Prompt {
		m.Content = schemas.CutUTF8(m.Content, limit)
	}
	for _, m := range ev.Completion {
		m.Content = schemas.CutUTF8(m.Content, limit)
	}
	for i := range ev.Context {
		ev.Context[i] = schemas.CutUTF8(ev.Context[i], limit)
	}
	ev.Reference = schemas.CutUTF8(ev.Reference, limit)
	if ev.Error != nil {
		ev.Error.Message = schemas.CutUTF8(ev.Error.Message, limit)
	}
	for k, v := range ev.Attributes {
		ev.Attributes[k] = schemas.CutUTF8(v, limit)
	}
}

// zapLogger adapts the collector's logger to franz-go's.
type zapLogger struct{ l *zap.Logger }

func (z zapLogger) Level() kgo.LogLevel {
	switch {
	case z.l.Core().Enabled(zap.DebugLevel):
		return kgo.LogLevelDebug
	case z.l.Core().Enabled(zap.InfoLevel):
		return kgo.LogLevelInfo
	default:
		return kgo.LogLevelWarn
	}
}

func (z zapLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	fields := make([]zap.Field, 0, len(keyvals)/2)
	for i := 0; i+1 < len(keyvals); i += 2 {
		k, _ := keyvals[i].(string)
		fields = append(fields, zap.Any(k, keyvals[i+1]))
	}
	switch level {
	case kgo.LogLevelError:
		z.l.Error(msg, fields...)
	case kgo.LogLevelWarn:
		z.l.Warn(msg, fields...)
	case kgo.LogLevelInfo:
		z.l.Info(msg, fields...)
	default:
		z.l.Debug(msg, fields...)
	}
}
