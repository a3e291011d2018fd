package app_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sightline-dev/sightline/internal/app"
	"github.com/sightline-dev/sightline/internal/chlocal"
	"github.com/sightline-dev/sightline/internal/config"
	"github.com/sightline-dev/sightline/internal/loadgen"
	"github.com/sightline-dev/sightline/internal/testenv"
	"github.com/sightline-dev/sightline/schemas/kafkaconf"
	"github.com/sightline-dev/sightline/schemas/kafkaconf/kafkatest"
)

const passwordEnv = "SIGHTLINE_TEST_KAFKA_PASSWORD"

// securedConfig points the stages at a broker that requires TLS and
// SCRAM-SHA-512, with the password in the environment as a Kubernetes
// Secret would put it.
func securedConfig(t *testing.T, b *kafkatest.Broker) (config.Config, driver.Conn) {
	t.Helper()
	t.Setenv(passwordEnv, kafkatest.Password)
	conn, ch := testenv.Database(t)
	port := func() string {
		p, err := chlocal.FreePort()
		testenv.Must(t, err, "free port")
		return strconv.Itoa(p)
	}
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.HTTPAddr = "127.0.0.1:" + port()
	cfg.Kafka.Config = b.Config(kafkaconf.MechanismScramSHA512)
	cfg.Kafka.SASL.Password, cfg.Kafka.SASL.PasswordEnv = "", passwordEnv
	cfg.ClickHouse.Addrs, cfg.ClickHouse.Database = ch.Addrs[:1], ch.Database
	cfg.Score.FlushInterval = 200 * time.Millisecond
	cfg.Aggregate.Window, cfg.Aggregate.Lateness = 2*time.Second, time.Second
	testenv.Must(t, cfg.Validate(), "config")
	return cfg, conn
}

// Every Kafka client of `up` (score and aggregate stages, ingest) and
// loadgen work through TLS and SASL: loadgen's and ingest's events are
// scored into llm_events and windowed into llm_signals.
func TestSecuredKafkaEndToEnd(t *testing.T) {
	b := kafkatest.Start(t, kafkatest.Options{TLS: true, SASL: true, Partitions: 2})
	cfg, conn := securedConfig(t, b)
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Up(ctx, cfg, slog.New(slog.NewTextHandler(logs, nil))) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("up: %v", err)
		}
		if t.Failed() {
			t.Logf("up's log:\n%s", logs.String())
		}
	})
	base := "http://" + cfg.HTTPAddr
	testenv.Eventually(t, 60*time.Second, "score, aggregate and broker ready", func() (bool, string) {
		select {
		case err := <-done:
			t.Fatalf("up stopped: %v", err)
		default:
		}
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode == http.StatusOK, string(body)
	})

	_, err := loadgen.Run(ctx, loadgen.Config{Brokers: cfg.Kafka.Brokers, TLS: cfg.Kafka.TLS, SASL: cfg.Kafka.SASL, Count: 300, Seed: 7})
	testenv.Must(t, err, "loadgen over TLS and SASL")
	ev := `{"schema_version":1,"event_id":"0190c8e4-5a2b-7c3d-8e4f-0123456789ab","app":"ingest","model":"m","ts":"` +
		time.Now().UTC().Format(time.RFC3339) + `","prompt":[{"role":"user","content":"hi"}]}`
	resp, err := http.Post(base+"/v1/events", "application/json", strings.NewReader(ev))
	testenv.Must(t, err, "ingest")
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("ingest answered %d %s", resp.StatusCode, body)
	}

	count := func(query string, want func(uint64) bool) func() (bool, string) {
		return func() (bool, string) {
			var n uint64
			if err := conn.QueryRow(ctx, query).Scan(&n); err != nil {
				return false, err.Error()
			}
			return want(n), testenv.Sprintf("%d", n)
		}
	}
	testenv.Eventually(t, 60*time.Second, "301 events in llm_events", count("SELECT uniqExact(event_id) FROM llm_events", func(n uint64) bool { return n == 301 }))
	testenv.Eventually(t, 60*time.Second, "signals in llm_signals", count("SELECT count() FROM llm_signals", func(n uint64) bool { return n > 0 }))
}

// A wrong password, a mechanism the user lacks and a CA that did not sign
// the broker stop `sightline score` and `sightline aggregate` at start
// with the setting named, instead of a client retrying forever.
func TestSecuredKafkaRefusedAtStart(t *testing.T) {
	b := kafkatest.Start(t, kafkatest.Options{TLS: true, SASL: true})
	base, _ := securedConfig(t, b)
	other := kafkatest.NewCA(t, "other")
	for _, tc := range []struct {
		name string
		edit func(*testing.T, *config.Config)
		want string
	}{
		{"wrong password", func(t *testing.T, _ *config.Config) { t.Setenv(passwordEnv, "wrong") }, "kafka.sasl.password"},
		{"password variable unset", func(t *testing.T, c *config.Config) { c.Kafka.SASL.PasswordEnv = "SIGHTLINE_TEST_UNSET" }, "kafka.sasl.password_env"},
		{"mechanism the user lacks", func(t *testing.T, c *config.Config) { c.Kafka.SASL.Mechanism = kafkaconf.MechanismPlain }, "kafka.sasl.mechanism"},
		{"CA that did not sign the broker", func(t *testing.T, c *config.Config) { c.Kafka.TLS.CAFile = other.CAFile }, "kafka.tls.ca_file"},
		{"TLS off", func(t *testing.T, c *config.Config) { c.Kafka.TLS = kafkaconf.TLS{} }, "kafka.tls.enabled"},
	} {
		for stage, run := range map[string]func(context.Context, config.Config, *slog.Logger) error{"score": app.Score, "aggregate": app.Aggregate} {
			t.Run(tc.name+"/"+stage, func(t *testing.T) {
				t.Setenv(passwordEnv, kafkatest.Password)
				cfg := base
				cfg.Kafka.Config.Brokers = append([]string(nil), base.Kafka.Brokers...)
				tc.edit(t, &cfg)
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				start := time.Now()
				err := run(ctx, cfg, slog.New(slog.DiscardHandler))
				switch {
				case err == nil || errors.Is(err, context.DeadlineExceeded):
					t.Fatalf("%s ran on (%v) instead of refusing at start", stage, err)
				case !strings.Contains(err.Error(), tc.want):
					t.Fatalf("error does not name %s: %v", tc.want, err)
				case strings.Contains(err.Error(), kafkatest.Password):
					t.Fatalf("error shows the password: %v", err)
				}
				if took := time.Since(start); took > 5*time.Second {
					t.Errorf("took %s to refuse", took)
				}
			})
		}
	}
}
