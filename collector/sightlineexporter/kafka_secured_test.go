package sightlineexporter

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/exporter/exportertest"

	"github.com/sightline-dev/sightline/schemas"
	"github.com/sightline-dev/sightline/schemas/kafkaconf"
	"github.com/sightline-dev/sightline/schemas/kafkaconf/kafkatest"
)

// The exporter produces through TLS and SCRAM, the password taken from
// the environment; settings the broker refuses fail its start naming the
// key, the password never shown.
func TestExportSecured(t *testing.T) {
	b := kafkatest.Start(t, kafkatest.Options{TLS: true, SASL: true})
	t.Setenv("SIGHTLINE_TEST_KAFKA_PASSWORD", kafkatest.Password)
	k := b.Config(kafkaconf.MechanismScramSHA256)
	cfg := testConfig(b.Addrs)
	cfg.TLS = k.TLS
	cfg.SASL = kafkaconf.SASL{Mechanism: k.SASL.Mechanism, Username: k.SASL.Username, PasswordEnv: "SIGHTLINE_TEST_KAFKA_PASSWORD"}
	must(t, cfg.Validate(), "config")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	start := func(cfg *Config) error {
		te, err := NewFactory().CreateTraces(ctx, exportertest.NewNopSettings(Type), cfg)
		must(t, err, "create traces exporter")
		err = te.Start(ctx, componenttest.NewNopHost())
		if err == nil {
			t.Cleanup(func() { _ = te.Shutdown(context.Background()) })
			td := readTraces(t, "genai_current.json")
			must(t, te.ConsumeTraces(ctx, td), "export")
		}
		return err
	}
	must(t, start(cfg), "start over TLS and SASL")
	opts, err := k.Opts()
	must(t, err, "consumer options")
	kcl, err := kgo.NewClient(append(opts, kgo.SeedBrokers(b.Addrs...), kgo.ConsumeTopics(schemas.TopicEvents))...)
	must(t, err, "consumer")
	defer kcl.Close()
	fs := kcl.PollFetches(ctx)
	must(t, fs.Err0(), "fetch")
	if n := fs.NumRecords(); n == 0 {
		t.Fatal("no event produced")
	}
	fs.EachRecord(func(r *kgo.Record) {
		if _, err := schemas.Decode(r.Value); err != nil {
			t.Errorf("record does not decode: %v", err)
		}
	})

	other := kafkatest.NewCA(t, "other")
	for _, tc := range []struct {
		name string
		edit func(*testing.T, *Config)
		want string
	}{
		{"wrong password", func(t *testing.T, _ *Config) { t.Setenv("SIGHTLINE_TEST_KAFKA_PASSWORD", "wrong") }, "sasl::password"},
		{"mechanism the user lacks", func(_ *testing.T, c *Config) { c.SASL.Mechanism = kafkaconf.MechanismScramSHA512 }, "sasl::mechanism"},
		{"CA that did not sign the broker", func(_ *testing.T, c *Config) { c.TLS.CAFile = other.CAFile }, "tls::ca_file"},
		{"TLS off", func(_ *testing.T, c *Config) { c.TLS = kafkaconf.TLS{} }, "tls::enabled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("SIGHTLINE_TEST_KAFKA_PASSWORD", kafkatest.Password)
			bad := *cfg
			tc.edit(t, &bad)
			err := start(&bad)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), kafkatest.Password) {
				t.Fatalf("want a start error naming %s (without the password), got %v", tc.want, err)
			}
		})
	}
}
