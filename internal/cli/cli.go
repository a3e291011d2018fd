// Package cli defines the sightline command line. cmd/sightline only calls
// Execute; every command is testable from here.
package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/spf13/cobra"

	"github.com/sightline-dev/sightline/internal/app"
	"github.com/sightline-dev/sightline/internal/broker"
	"github.com/sightline-dev/sightline/internal/config"
	"github.com/sightline-dev/sightline/internal/loadgen"
	"github.com/sightline-dev/sightline/schemas/kafkaconf"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

type globals struct {
	configPath string
	dataDir    string
	brokers    string
	chAddr     string
	chDB       string
	httpAddr   string
	logLevel   string
	insecure   bool
	out        io.Writer
}

func (g *globals) load(cmd *cobra.Command) (config.Config, error) {
	cfg, err := config.Load(g.configPath)
	if err != nil {
		return cfg, err
	}
	f := cmd.Flags()
	if f.Changed("data-dir") {
		cfg.DataDir = g.dataDir
	}
	if f.Changed("kafka-brokers") {
		cfg.Kafka.Brokers = splitList(g.brokers)
	}
	if f.Changed("clickhouse-addr") {
		cfg.ClickHouse.Addrs = splitList(g.chAddr)
	}
	if f.Changed("clickhouse-database") {
		cfg.ClickHouse.Database = g.chDB
	}
	if f.Changed("http-addr") {
		cfg.HTTPAddr = g.httpAddr
	}
	if g.insecure {
		cfg.Auth.Insecure = true
	}
	err = cfg.Validate() // before the return: it may fill defaults into cfg
	return cfg, err
}

func (g *globals) logger() *slog.Logger {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(g.logLevel)); err != nil {
		lvl = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Execute runs the command line with args (without the program name).
func Execute(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	root := NewRoot(stdout, stderr)
	root.SetArgs(args)
	return root.ExecuteContext(ctx)
}

// NewRoot builds the command tree.
func NewRoot(stdout, stderr io.Writer) *cobra.Command {
	g := &globals{out: stdout}
	root := &cobra.Command{
		Use:           "sightline",
		Short:         "LLM observability pipeline: events in, scores and signals out",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	pf := root.PersistentFlags()
	pf.StringVar(&g.configPath, "config", "", "YAML config file")
	pf.StringVar(&g.dataDir, "data-dir", "./sightline-data", "data directory (embedded broker log, local ClickHouse)")
	pf.StringVar(&g.brokers, "kafka-brokers", "", "Kafka/Redpanda seed brokers, comma-separated (default: the embedded broker)")
	pf.StringVar(&g.chAddr, "clickhouse-addr", "", "ClickHouse native address host:port (default: a local clickhouse-server run by sightline)")
	pf.StringVar(&g.chDB, "clickhouse-database", "default", "ClickHouse database")
	pf.StringVar(&g.httpAddr, "http-addr", "127.0.0.1:8088", "HTTP address for /metrics, /healthz, /readyz and ingest")
	pf.StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	pf.BoolVar(&g.insecure, "insecure", false, "listen beyond loopback without API keys (auth.insecure): only behind something that authenticates every request")

	root.AddCommand(
		upCommand(g),
		&cobra.Command{
			Use:   "score",
			Short: "Run the score stage alone against --kafka-brokers and --clickhouse-addr",
			RunE: func(cmd *cobra.Command, _ []string) error {
				cfg, err := g.load(cmd)
				if err != nil {
					return err
				}
				return app.Score(cmd.Context(), cfg, g.logger())
			},
		},
		&cobra.Command{
			Use:   "aggregate",
			Short: "Run the aggregate stage alone (partials in, signals out) against --kafka-brokers and --clickhouse-addr",
			RunE: func(cmd *cobra.Command, _ []string) error {
				cfg, err := g.load(cmd)
				if err != nil {
					return err
				}
				return app.Aggregate(cmd.Context(), cfg, g.logger())
			},
		},
		newMigrate(g),
		newLoadgen(g),
		newKeys(g),
		newSummary(g),
		newEval(g),
		newTrain(g),
		newReport(g),
		newBaseline(g),
		newReeval(g),
		newWebhook(g),
		newAlerts(g),
		newConsole(g),
		newForget(g), newExport(g), newRetention(g),
	)
	return root
}

func newLoadgen(g *globals) *cobra.Command {
	var lc loadgen.Config
	var topic string
	cmd := &cobra.Command{
		Use:   "loadgen",
		Short: "Produce realistic synthetic LLM traffic through the SDK",
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.load(cmd)
			if err != nil {
				return err
			}
			lc.Brokers, lc.TLS, lc.SASL = cfg.Kafka.Brokers, cfg.Kafka.TLS, cfg.Kafka.SASL
			if len(lc.Brokers) == 0 { // the embedded broker: plaintext on loopback
				lc.Brokers, lc.TLS, lc.SASL = []string{cfg.Kafka.EmbeddedAddr}, kafkaconf.TLS{}, kafkaconf.SASL{}
			}
			lc.Topic = topic
			res, err := loadgen.Run(cmd.Context(), lc)
			rate := 0.0
			if res.Elapsed > 0 {
				rate = float64(res.Produced) / res.Elapsed.Seconds()
			}
			fmt.Fprintf(g.out, "loadgen: %d events produced in %s (%.0f/s), %d failed\n", res.Produced, res.Elapsed.Round(time.Millisecond), rate, res.Failed)
			return err
		},
	}
	f := cmd.Flags()
	f.IntVar(&lc.Count, "count", 0, "produce exactly N events")
	f.DurationVar(&lc.Duration, "duration", 0, "produce for this long (when --count is not given)")
	f.Float64Var(&lc.Rate, "rate", 0, "events per second (0: as fast as possible)")
	f.Uint64Var(&lc.Seed, "seed", 1, "random seed")
	f.StringVar(&lc.Scenario, "scenario", "steady", "traffic shape: steady, drift, toxicity-incident, bias, ab")
	f.StringVar(&lc.Tenant, "tenant", "default", "tenant of the events")
	f.IntVar(&lc.Invalid, "invalid", 0, "also produce N malformed records (they go to the dead-letter topic)")
	f.StringVar(&topic, "topic", broker.TopicEvents, "events topic")
	return cmd
}

// openClickHouse connects the tool commands to clickhouse.addr, or to the
// local server `sightline up` manages when none is configured.
func openClickHouse(cmd *cobra.Command, cfg config.Config) (driver.Conn, error) {
	addr := cfg.ClickHouse.Addrs.String()
	if addr == "" {
		addr = fmt.Sprintf("127.0.0.1:%d", cfg.ClickHouse.LocalPort)
	}
	return chsink.Open(cmd.Context(), app.ClickHouseOptions(cfg.ClickHouse, addr))
}

// connect loads the config and opens its ClickHouse (openClickHouse): the
// start of every tool command that reads or writes the tables. The caller
// closes the connection.
func (g *globals) connect(cmd *cobra.Command) (config.Config, driver.Conn, error) {
	cfg, err := g.load(cmd)
	if err != nil {
		return cfg, nil, err
	}
	conn, err := openClickHouse(cmd, cfg)
	return cfg, conn, err
}

func upCommand(g *globals) *cobra.Command {
	var otlp bool
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run everything on this machine: embedded broker, local ClickHouse, migrations, stages, HTTP",
		Long: `Run everything on this machine: embedded broker, local ClickHouse, migrations,
the score and aggregate stages, alerts and the HTTP server.

With --otlp (or otlp.enabled in the config file) it also accepts OpenTelemetry
GenAI spans and log events over OTLP (gRPC 127.0.0.1:4317, HTTP 127.0.0.1:4318),
mapped by the same receiver and exporter as sightline-collector.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.load(cmd)
			if err != nil {
				return err
			}
			if otlp {
				cfg.OTLP.Enabled = true
				if err := cfg.Validate(); err != nil {
					return err
				}
			}
			return app.Up(cmd.Context(), cfg, g.logger())
		},
	}
	cmd.Flags().BoolVar(&otlp, "otlp", false, "also accept OTLP (gRPC 4317, HTTP 4318) like sightline-collector; addresses in the config file's otlp section")
	return cmd
}
