package sightlineexporter

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/sightline-dev/sightline/schemas"
	"github.com/sightline-dev/sightline/schemas/eventpb"
)

// sightlineExporter turns a batch into events and produces them, one
// protobuf record per event, no key, to the configured topic. A push
// returns once every record is acknowledged; an error makes exporterhelper
// retry the whole batch, which is safe because event ids are derived from
// trace and span ids.
type sightlineExporter struct {
	cfg    *Config
	logger *zap.Logger
	tel    *telemetry
	tr     translator
	kcl    *kgo.Client
	bufs   sync.Pool // *encodeBuf
	arenas sync.Pool // *arena
}

func newExporter(cfg *Config, set exporter.Settings) (*sightlineExporter, error) {
	tel, err := newTelemetry(set.TelemetrySettings.MeterProvider)
	if err != nil {
		return nil, err
	}
	return &sightlineExporter{
		cfg:    cfg,
		logger: set.Logger,
		tel:    tel,
		tr:     translator{tenant: cfg.Tenant, tel: tel},
	}, nil
}

// Stats returns the exporter's counters.
func (e *sightlineExporter) Stats() Stats { return e.tel.stats() }

func (e *sightlineExporter) start(ctx context.Context, _ component.Host) error {
	opts, err := kafkaOpts(ctx, e.cfg, e.logger)
	if err != nil {
		return err
	}
	kcl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("cannot create kafka client for brokers %v: %w", e.cfg.Brokers, err)
	}
	e.kcl = kcl
	return nil
}

func (e *sightlineExporter) shutdown(context.Context) error {
	if e.kcl != nil {
		e.kcl.Close() // every push waited for its records: nothing is buffered
	}
	return nil
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
	if cfg.TLS != nil {
		tc, err := cfg.TLS.LoadTLSConfig(ctx)
		if err != nil {
			return nil, fmt.Errorf("cannot load tls configuration: %w", err)
		}
		if tc != nil {
			opts = append(opts, kgo.DialTLSConfig(tc))
		}
	}
	if s := cfg.SASL; s != nil {
		switch s.Mechanism {
		case "PLAIN":
			opts = append(opts, kgo.SASL(plain.Auth{User: s.Username, Pass: string(s.Password)}.AsMechanism()))
		case "SCRAM-SHA-256":
			opts = append(opts, kgo.SASL(scram.Auth{User: s.Username, Pass: string(s.Password)}.AsSha256Mechanism()))
		case "SCRAM-SHA-512":
			opts = append(opts, kgo.SASL(scram.Auth{User: s.Username, Pass: string(s.Password)}.AsSha512Mechanism()))
		default:
			return nil, fmt.Errorf("sasl::mechanism: %q is not supported", s.Mechanism)
		}
	}
	return opts, nil
}

func (e *sightlineExporter) pushTraces(ctx context.Context, td ptrace.Traces) error {
	a := e.arena()
	defer e.release(a)
	a.out = e.tr.tracesIn(a, td, a.out[:0])
	return e.produce(ctx, a.out)
}

func (e *sightlineExporter) pushLogs(ctx context.Context, ld plog.Logs) error {
	a := e.arena()
	defer e.release(a)
	a.out = e.tr.logsIn(a, ld, a.out[:0])
	return e.produce(ctx, a.out)
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
