// Package app wires Sightline's components into the processes the CLI runs:
// `up` (everything on one machine) and the single stages.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sightline-dev/sightline/collector/distribution"
	"github.com/sightline-dev/sightline/internal/auth"
	"github.com/sightline-dev/sightline/internal/broker"
	"github.com/sightline-dev/sightline/internal/chlocal"
	"github.com/sightline-dev/sightline/internal/config"
	"github.com/sightline-dev/sightline/internal/console"
	"github.com/sightline-dev/sightline/internal/redact"
	"github.com/sightline-dev/sightline/internal/server"
	"github.com/sightline-dev/sightline/processors/aggregate"
	"github.com/sightline-dev/sightline/processors/alert"
	"github.com/sightline-dev/sightline/processors/detectors"
	"github.com/sightline-dev/sightline/processors/detectors/registry"
	"github.com/sightline-dev/sightline/processors/detectors/runner"
	"github.com/sightline-dev/sightline/processors/score"
	"github.com/sightline-dev/sightline/processors/window"
	"github.com/sightline-dev/sightline/schemas/kafkaconf"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
	"github.com/sightline-dev/sightline/sinks/otlp"
)

// NewRegistry returns a registry with the Go and process collectors.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// ClickHouseOptions is the config's connection with addr (comma-separated)
// in place of clickhouse.addr.
func ClickHouseOptions(c config.ClickHouseConfig, addr string) chsink.Options {
	o := c.Options
	o.Addrs = nil
	for _, a := range strings.Split(addr, ",") {
		if a = strings.TrimSpace(a); a != "" {
			o.Addrs = append(o.Addrs, a)
		}
	}
	return o
}

// Up runs everything on one machine until ctx ends: the embedded broker
// (unless kafka.brokers is set), a local ClickHouse (unless clickhouse.addr
// is set), migrations, the score stage and the HTTP server.
func Up(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	// Before anything starts: no listener beyond loopback without keys.
	if err := auth.CheckExposure(cfg.Auth, Listeners(cfg, cfg.OTLP.Enabled)...); err != nil {
		return err
	}
	if err := checkEmbeddedBroker(cfg); err != nil {
		return err
	}
	// One score and one aggregate member, restarted in place: static
	// members get their partitions back at once, and the same
	// transactional id aborts a crashed predecessor's open transaction
	// instead of leaving it to time out (which holds up the partials).
	if cfg.Score.TransactionalID == "" {
		cfg.Score.TransactionalID = "sightline-up-score"
	}
	if cfg.Score.InstanceID == "" {
		cfg.Score.InstanceID = "sightline-up-score"
	}
	if cfg.Aggregate.InstanceID == "" {
		cfg.Aggregate.InstanceID = "sightline-up-aggregate"
	}
	if err := privateDataDir(cfg.DataDir, log); err != nil {
		return err
	}
	var cleanups []func()
	defer func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}()
	reg := NewRegistry()

	brokers := cfg.Kafka.Brokers
	kopts, err := kafkaOpts(ctx, cfg, log)
	if err != nil {
		return err
	}
	if len(brokers) == 0 {
		_, portStr, err := net.SplitHostPort(cfg.Kafka.EmbeddedAddr)
		if err != nil {
			return fmt.Errorf("config: kafka.embedded_addr: %w", err)
		}
		port, _ := strconv.Atoi(portStr)
		b, err := broker.Start(broker.Config{
			Port: port, DataDir: filepath.Join(cfg.DataDir, "kafka"), Partitions: cfg.Kafka.Partitions,
			Retention: cfg.Kafka.Retention, RetentionBytes: cfg.Kafka.RetentionBytes,
		})
		if err != nil {
			return err
		}
		cleanups = append(cleanups, b.Close)
		brokers = b.Addrs()
		log.Info("embedded broker started", "addr", strings.Join(brokers, ","), "data_dir", filepath.Join(cfg.DataDir, "kafka"),
			"retention", cfg.Kafka.Retention, "retention_bytes_per_partition", cfg.Kafka.RetentionBytes)
	}

	chAddr := cfg.ClickHouse.Addrs.String()
	var chLocal *chlocal.Supervisor
	if chAddr == "" {
		s, err := chlocal.Supervise(ctx, chlocal.Config{
			Dir:      filepath.Join(cfg.DataDir, "clickhouse"),
			TCPPort:  cfg.ClickHouse.LocalPort,
			HTTPPort: cfg.ClickHouse.LocalHTTP,
		}, chlocal.DefaultRestartPolicy(), log, reg)
		if err != nil {
			return err
		}
		chLocal = s
		cleanups = append(cleanups, func() { s.Close() })
		chAddr = s.Addr()
		log.Info("local clickhouse started", "addr", chAddr, "http", s.HTTPAddr(), "data_dir", filepath.Join(cfg.DataDir, "clickhouse"))
	}
	chOpts := ClickHouseOptions(cfg.ClickHouse, chAddr)
	conn, err := chsink.Open(ctx, chOpts)
	if err != nil {
		return err
	}
	cleanups = append(cleanups, func() { conn.Close() })
	res, err := chsink.MigrateOn(ctx, conn, chOpts)
	if err != nil {
		return err
	}
	log.Info("migrations applied", "applied", res.Applied, "skipped_for_old_server", res.Skipped, "current", res.Current)

	dets, err := registry.Build(cfg.Detectors)
	if err != nil {
		return err
	}
	scfg, closeEvals, err := scoreConfig(cfg, brokers, dets, reg, log)
	if err != nil {
		return err
	}
	defer closeEvals()
	scfg.KafkaOpts = kopts
	stage, err := score.New(scfg, conn, reg)
	if err != nil {
		return err
	}
	aggCfg := AggregateConfig(cfg, brokers, log)
	aggCfg.KafkaOpts = kopts
	engine, err := alertEngine(cfg, conn, reg, log)
	if err != nil {
		return err
	}
	if engine != nil {
		aggCfg.OnSignals = engine.Evaluate
		defer closeEngine(engine, log)
	}
	agg, err := aggregate.New(aggCfg, conn, reg)
	if err != nil {
		return err
	}
	stopRetention, err := startRetention(ctx, conn, cfg, reg, log)
	if err != nil {
		return err
	}
	cleanups = append(cleanups, stopRetention) // before conn closes (cleanups run in reverse)
	producer, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...), kgo.ProducerBatchMaxBytes(16 << 20), kgo.ClientID("sightline-ingest")}, kopts...)...)
	if err != nil {
		return fmt.Errorf("cannot create kafka client: %w", err)
	}
	cleanups = append(cleanups, producer.Close)

	probes := newProbes(defaultProbeInterval, defaultProbeTimeout)
	cleanups = append(cleanups, probes.Close)
	chReady := probes.add(conn.Ping)
	if chLocal != nil {
		// Not ready the moment the process is gone, not a ping later.
		pinged := chReady
		chReady = func() bool { return chLocal.Running() && pinged() }
	}
	sec, err := NewSecurity(ctx, cfg, conn, reg, log, Listeners(cfg, cfg.OTLP.Enabled)...)
	if err != nil {
		return err
	}
	cleanups = append(cleanups, sec.Close)
	ui, err := console.Handler(console.Options{Conn: conn, Config: cfg.Console, ListenAddr: cfg.HTTPAddr, Rules: cfg.Alerts.Rules,
		Window: &cfg.Window, Registerer: reg, Logger: log, Guard: sec.Guard, Limit: sec.Reads.Console})
	if err != nil {
		return err
	}
	srv, err := server.Start(server.Config{
		Addr:     cfg.HTTPAddr,
		Gatherer: reg,
		Ingest:   cfg.Ingest,
		Console:  ui,
		Guard:    sec.Guard,
		Reads:    sec.Reads,
		TLS:      sec.TLS,
		Checks: []server.Check{
			{Name: "broker", Ready: probes.add(producer.Ping)},
			{Name: "clickhouse", Ready: chReady},
			{Name: "score", Status: stage.Status},
			{Name: "aggregate", Status: agg.Status},
		},
		Producer: producer,
		Topic:    broker.TopicEvents,
		Query:    conn,
	})
	if err != nil {
		return err
	}
	log.Info("http server listening", "addr", srv.Addr(), "endpoints", "/metrics /healthz /readyz POST /v1/events GET /v1/signals /v1/alerts /v1/summary /v1/audit",
		"console", cfg.Console.Enabled, "auth", cfg.Auth.Enabled, "tls", sec.TLS != nil)

	var (
		col      *distribution.Running
		otlpDone <-chan struct{}
	)
	if cfg.OTLP.Enabled {
		col, err = distribution.Start(ctx, distribution.Options{
			Brokers: brokers, GRPCAddr: cfg.OTLP.GRPCAddr, HTTPAddr: cfg.OTLP.HTTPAddr,
			MetricsAddr: cfg.OTLP.MetricsAddr, Tenant: cfg.OTLP.Tenant,
			Guard: sec.Guard, TLSCertFile: cfg.TLS.CertFile, TLSKeyFile: cfg.TLS.KeyFile, TLSReload: cfg.TLS.ReloadInterval,
		})
		if err != nil {
			sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
			srv.Close(sctx)
			scancel()
			return err
		}
		otlpDone = col.Done()
		log.Info("otlp receiver listening", "grpc", cfg.OTLP.GRPCAddr, "http", cfg.OTLP.HTTPAddr, "collector_metrics", cfg.OTLP.MetricsAddr)
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 2)
	wg.Add(2)
	go func() {
		defer wg.Done()
		errc <- stage.Run(runCtx)
	}()
	go func() {
		defer wg.Done()
		errc <- agg.Run(runCtx)
	}()
	// A local clickhouse that dies is restarted by its supervisor while the
	// broker, ingest and OTLP go on and the stages retry their inserts;
	// only one that keeps crashing ends `up`.
	var chGaveUp <-chan struct{}
	if chLocal != nil {
		chGaveUp = chLocal.Done()
	}
	var runErr error
	select {
	case <-ctx.Done():
	case err := <-errc:
		runErr = err
	case <-chGaveUp:
		runErr = chLocal.Err()
	case <-otlpDone:
		runErr = errors.New("the otlp collector stopped unexpectedly")
	}
	log.Info("shutting down")
	if col != nil {
		// First, while the broker is up: the spans its batch processor
		// still holds are produced, not dropped.
		if err := col.Shutdown(); err != nil {
			log.Warn("otlp collector stopped with an error", "err", err)
		}
	}
	cancel()
	wg.Wait()
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	srv.Close(sctx)
	scancel()
	return runErr
}

// kafkaOpts are the TLS and SASL options of kafka.brokers, once the
// brokers accepted them: a wrong password, mechanism or CA ends the
// process at start with the setting named instead of leaving the stages
// retrying forever. Brokers that do not answer yet are only logged (the
// stages retry until they do). None for the embedded broker, which is
// plaintext on loopback.
func kafkaOpts(ctx context.Context, cfg config.Config, log *slog.Logger) ([]kgo.Opt, error) {
	k := cfg.Kafka.Config
	if len(k.Brokers) == 0 {
		return nil, nil
	}
	opts, err := k.Opts()
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := k.Check(ctx); err != nil {
		if !errors.Is(err, kafkaconf.ErrUnreachable) {
			return nil, err
		}
		log.Warn("kafka brokers do not answer yet; the stages keep trying", "brokers", strings.Join(k.Brokers, ","), "err", err)
	}
	return opts, nil
}

// AggregateConfig is the config file's aggregate: section with what the
// stage takes from the rest of the file.
func AggregateConfig(cfg config.Config, brokers []string, log *slog.Logger) aggregate.Config {
	a := cfg.Aggregate
	a.Brokers, a.ReferenceScore, a.WindowConfig, a.Logger = brokers, referenceScorer(cfg), cfg.Window, log
	return a
}

// alertEngine builds the alert engine when the config has rules.
func alertEngine(cfg config.Config, conn driver.Conn, reg prometheus.Registerer, log *slog.Logger) (*alert.Engine, error) {
	if len(cfg.Alerts.Rules) == 0 {
		return nil, nil
	}
	e, err := alert.New(cfg.Alerts, conn, reg, log)
	if err != nil {
		return nil, err
	}
	log.Info("alert engine running", "rules", len(cfg.Alerts.Rules), "actions", len(cfg.Alerts.Actions))
	return e, nil
}

// closeEngine drains the engine's notification queue (bounded).
func closeEngine(e *alert.Engine, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Close(ctx); err != nil {
		log.Warn("alert notifications not all delivered before stopping", "err", err)
	}
}

// referenceScorer scores reference-file events with the configured
// detectors, as the score stage would.
func referenceScorer(cfg config.Config) window.ScoreFunc {
	if !strings.HasPrefix(cfg.Aggregate.Baseline, "file:") {
		return nil // only a reference file is scored
	}
	dets, err := registry.Build(cfg.Detectors)
	if err != nil {
		return nil // Validate reported it already
	}
	return runner.New(dets, nil).Func()
}

// Aggregate runs the aggregate stage alone until ctx ends.
func Aggregate(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	if len(cfg.Kafka.Brokers) == 0 {
		return errors.New("sightline aggregate needs --kafka-brokers (or kafka.brokers in the config file)")
	}
	if len(cfg.ClickHouse.Addrs) == 0 {
		return errors.New("sightline aggregate needs --clickhouse-addr (or clickhouse.addr in the config file)")
	}
	warnScaleOut(cfg, log)
	kopts, err := kafkaOpts(ctx, cfg, log)
	if err != nil {
		return err
	}
	conn, err := chsink.Open(ctx, cfg.ClickHouse.Options)
	if err != nil {
		return err
	}
	defer conn.Close()
	reg := NewRegistry()
	aggCfg := AggregateConfig(cfg, cfg.Kafka.Brokers, log)
	aggCfg.KafkaOpts = kopts
	// One of possibly several aggregate members: the alert state of the
	// keys it takes over is reloaded from llm_alerts (alertowner.go).
	owned, err := newOwnedAlerts(cfg, conn, reg, log)
	if err != nil {
		return err
	}
	if owned != nil {
		aggCfg.OnSignals = owned.Evaluate
		defer owned.Close()
	}
	agg, err := aggregate.New(aggCfg, conn, reg)
	if err != nil {
		return err
	}
	stopRetention, err := startRetention(ctx, conn, cfg, reg, log)
	if err != nil {
		return err
	}
	defer stopRetention()
	sec, err := NewSecurity(ctx, cfg, conn, reg, log, Listeners(cfg, false)...)
	if err != nil {
		return err
	}
	defer sec.Close()
	probes := newProbes(defaultProbeInterval, defaultProbeTimeout)
	defer probes.Close()
	srv, err := server.Start(server.Config{
		Addr: cfg.HTTPAddr, Gatherer: reg, Guard: sec.Guard, TLS: sec.TLS,
		Checks: []server.Check{{Name: "clickhouse", Ready: probes.add(conn.Ping)}, {Name: "aggregate", Status: agg.Status}},
	})
	if err != nil {
		return err
	}
	defer srv.Close(context.Background())
	log.Info("aggregate stage running", "brokers", strings.Join(cfg.Kafka.Brokers, ","), "clickhouse", cfg.ClickHouse.Addrs.String(), "http", srv.Addr())
	return agg.Run(ctx)
}

// Score runs the score stage alone against the given brokers and
// ClickHouse until ctx ends.
func Score(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	if len(cfg.Kafka.Brokers) == 0 {
		return errors.New("sightline score needs --kafka-brokers (or kafka.brokers in the config file)")
	}
	if len(cfg.ClickHouse.Addrs) == 0 {
		return errors.New("sightline score needs --clickhouse-addr (or clickhouse.addr in the config file)")
	}
	kopts, err := kafkaOpts(ctx, cfg, log)
	if err != nil {
		return err
	}
	conn, err := chsink.Open(ctx, cfg.ClickHouse.Options)
	if err != nil {
		return err
	}
	defer conn.Close()
	dets, err := registry.Build(cfg.Detectors)
	if err != nil {
		return err
	}
	reg := NewRegistry()
	scfg, closeEvals, err := scoreConfig(cfg, cfg.Kafka.Brokers, dets, reg, log)
	if err != nil {
		return err
	}
	defer closeEvals()
	scfg.KafkaOpts = kopts
	stage, err := score.New(scfg, conn, reg)
	if err != nil {
		return err
	}
	sec, err := NewSecurity(ctx, cfg, conn, reg, log, Listeners(cfg, false)...)
	if err != nil {
		return err
	}
	defer sec.Close()
	probes := newProbes(defaultProbeInterval, defaultProbeTimeout)
	defer probes.Close()
	srv, err := server.Start(server.Config{
		Addr: cfg.HTTPAddr, Gatherer: reg, Guard: sec.Guard, TLS: sec.TLS,
		Checks: []server.Check{{Name: "clickhouse", Ready: probes.add(conn.Ping)}, {Name: "score", Status: stage.Status}},
	})
	if err != nil {
		return err
	}
	defer srv.Close(context.Background())
	log.Info("score stage running", "brokers", strings.Join(cfg.Kafka.Brokers, ","), "clickhouse", cfg.ClickHouse.Addrs.String(), "http", srv.Addr())
	return stage.Run(ctx)
}

// scoreConfig is the score stage's configuration, with the export of its
// scores as gen_ai.evaluation.result events when evaluations.otlp_endpoint
// is set; closeEvals sends what is still queued (call it once the stage
// has stopped).
func scoreConfig(cfg config.Config, brokers []string, dets []detectors.Detector, reg prometheus.Registerer, log *slog.Logger) (sc score.Config, closeEvals func(), err error) {
	sc = cfg.Score
	sc.Detectors, sc.Brokers, sc.Logger = dets, brokers, log
	sc.Partials = aggregate.NewCollector(cfg.Aggregate.Window, cfg.Window)
	closeEvals = func() {}
	e := cfg.Evaluations
	if e.Endpoint == "" {
		return sc, closeEvals, nil
	}
	e.Logger = log
	ex, err := otlp.New(e, reg)
	if err != nil {
		return sc, closeEvals, err
	}
	sc.OnCommitted = ex.Add
	log.Info("exporting scores as gen_ai.evaluation.result events", "endpoint", redact.URL(e.Endpoint))
	return sc, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ex.Close(ctx)
	}, nil
}
