package kafkaconf_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sightline-dev/sightline/schemas/kafkaconf"
	"github.com/sightline-dev/sightline/schemas/kafkaconf/kafkatest"
)

// Every mechanism over TLS: the check passes and a record goes through.
func TestSecuredRoundTrip(t *testing.T) {
	b := kafkatest.Start(t, kafkatest.Options{TLS: true, SASL: true})
	for _, mech := range []string{kafkaconf.MechanismPlain, kafkaconf.MechanismScramSHA256, kafkaconf.MechanismScramSHA512} {
		t.Run(mech, func(t *testing.T) {
			c := b.Config(mech)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := c.Check(ctx); err != nil {
				t.Fatalf("check: %v", err)
			}
			opts, err := c.Opts()
			if err != nil {
				t.Fatal(err)
			}
			topic := "roundtrip-" + strings.ToLower(mech)
			cl, err := kgo.NewClient(append(opts, kgo.SeedBrokers(c.Brokers...), kgo.DefaultProduceTopic(topic),
				kgo.ConsumeTopics(topic), kgo.AllowAutoTopicCreation())...)
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(mech)}).FirstErr(); err != nil {
				t.Fatalf("produce: %v", err)
			}
			fs := cl.PollFetches(ctx)
			if err := fs.Err0(); err != nil {
				t.Fatalf("fetch: %v", err)
			}
			if recs := fs.Records(); len(recs) != 1 || string(recs[0].Value) != mech {
				t.Fatalf("consumed %d records", len(recs))
			}
		})
	}
}

// Each setting the brokers refuse is an error at once that names it; a
// broker that is not there is ErrUnreachable.
func TestCheckNamesTheSetting(t *testing.T) {
	secured := kafkatest.Start(t, kafkatest.Options{TLS: true, SASL: true})
	plaintext := kafkatest.Start(t, kafkatest.Options{})
	mtls := kafkatest.Start(t, kafkatest.Options{TLS: true, ClientAuth: true})
	other := kafkatest.NewCA(t, "other")
	clientCert, clientKey, _ := mtls.CA.Issue(t, "client", false)
	strangerCert, strangerKey, _ := other.Issue(t, "stranger", false)

	cfg := func(b *kafkatest.Broker, mech string, edit func(*kafkaconf.Config)) kafkaconf.Config {
		c := b.Config(mech)
		if edit != nil {
			edit(&c)
		}
		return c
	}
	for _, tc := range []struct {
		name string
		c    kafkaconf.Config
		key  string // "" means the check passes
	}{
		{"right settings", cfg(secured, "SCRAM-SHA-256", nil), ""},
		{"wrong password", cfg(secured, "SCRAM-SHA-512", func(c *kafkaconf.Config) { c.SASL.Password = "wrong-" + kafkatest.Password }), "kafka.sasl.password"},
		{"wrong password, PLAIN", cfg(secured, "PLAIN", func(c *kafkaconf.Config) { c.SASL.Password = "wrong-" + kafkatest.Password }), "kafka.sasl.password"},
		{"unknown user", cfg(secured, "SCRAM-SHA-256", func(c *kafkaconf.Config) { c.SASL.Username = "nobody" }), "kafka.sasl.username"},
		{"mechanism the user does not have", cfg(secured, "SCRAM-SHA-256", func(c *kafkaconf.Config) { c.SASL.Username = kafkatest.UserScram512 }), "kafka.sasl.mechanism"},
		{"SASL missing", cfg(secured, "", nil), "kafka.sasl.mechanism"},
		{"CA that did not sign the broker", cfg(secured, "PLAIN", func(c *kafkaconf.Config) { c.TLS.CAFile = other.CAFile }), "kafka.tls.ca_file"},
		{"system roots only", cfg(secured, "PLAIN", func(c *kafkaconf.Config) { c.TLS.CAFile = "" }), "kafka.tls.ca_file"},
		{"name the certificate lacks", cfg(secured, "PLAIN", func(c *kafkaconf.Config) { c.TLS.ServerName = "kafka.example" }), "kafka.tls.server_name"},
		{"plaintext to a TLS listener", cfg(secured, "PLAIN", func(c *kafkaconf.Config) { c.TLS = kafkaconf.TLS{} }), "kafka.tls.enabled"},
		{"TLS to a plaintext listener", cfg(plaintext, "", func(c *kafkaconf.Config) { c.TLS = kafkaconf.TLS{Enabled: true, CAFile: other.CAFile} }), "kafka.tls.enabled"},
		{"client certificate missing", cfg(mtls, "", nil), "kafka.tls.cert_file"},
		{"client certificate from another CA", cfg(mtls, "", func(c *kafkaconf.Config) { c.TLS.CertFile, c.TLS.KeyFile = strangerCert, strangerKey }), "kafka.tls.cert_file"},
		{"client certificate", cfg(mtls, "", func(c *kafkaconf.Config) { c.TLS.CertFile, c.TLS.KeyFile = clientCert, clientKey }), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			start := time.Now()
			err := tc.c.Check(ctx)
			took := time.Since(start)
			if tc.key == "" {
				if err != nil {
					t.Fatalf("check failed: %v", err)
				}
				return
			}
			switch {
			case err == nil:
				t.Fatal("check passed")
			case errors.Is(err, kafkaconf.ErrUnreachable):
				t.Fatalf("a refused setting reported as an unreachable broker: %v", err)
			case !strings.Contains(err.Error(), tc.key):
				t.Fatalf("error does not name %s: %v", tc.key, err)
			case strings.Contains(err.Error(), kafkatest.Password):
				t.Fatalf("error shows the password: %v", err)
			}
			// Only a listener that never answers the handshake costs the
			// whole deadline; everything else is refused at once.
			if tc.name != "TLS to a plaintext listener" && took > time.Second {
				t.Errorf("took %s: a retry loop, not a refusal", took)
			}
			t.Logf("%v", err)
		})
	}
}

func TestCheckUnreachable(t *testing.T) {
	b := kafkatest.Start(t, kafkatest.Options{})
	addr := b.Addrs[0]
	c := kafkaconf.Config{Brokers: []string{"127.0.0.1:1"}}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := c.Check(ctx); !errors.Is(err, kafkaconf.ErrUnreachable) || !strings.Contains(err.Error(), "kafka.brokers") {
		t.Fatalf("want ErrUnreachable naming kafka.brokers, got %v", err)
	}
	// The first broker down, the second up: the check passes.
	c.Brokers = append(c.Brokers, addr)
	if err := c.Check(context.Background()); err != nil {
		t.Fatalf("one live broker is enough: %v", err)
	}
	if err := (&kafkaconf.Config{}).Check(context.Background()); err == nil || !strings.Contains(err.Error(), "kafka.brokers") {
		t.Fatalf("no brokers: %v", err)
	}
}
