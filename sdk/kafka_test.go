package sdk_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sightline-dev/sightline/schemas"
	"github.com/sightline-dev/sightline/schemas/kafkaconf"
	"github.com/sightline-dev/sightline/schemas/kafkaconf/kafkatest"
	"github.com/sightline-dev/sightline/sdk"
)

// Calls recorded through KafkaTLS and KafkaSASL reach a broker that
// requires both, with each SASL mechanism.
func TestKafkaTLSAndSASL(t *testing.T) {
	b := kafkatest.Start(t, kafkatest.Options{TLS: true, SASL: true})
	for _, mech := range []string{kafkaconf.MechanismPlain, kafkaconf.MechanismScramSHA256, kafkaconf.MechanismScramSHA512} {
		t.Run(mech, func(t *testing.T) {
			k := b.Config(mech)
			app := "secured-" + strings.ToLower(mech)
			c, err := sdk.NewClient(sdk.App(app), sdk.Brokers(k.Brokers...),
				sdk.KafkaTLS(kafkaconf.TLS{CAFile: k.TLS.CAFile}), sdk.KafkaSASL(k.SASL))
			if err != nil {
				t.Fatal(err)
			}
			for range 3 {
				h := c.Start(sdk.Request{Model: "gpt-4o"})
				h.Finish(sdk.Response{Completion: []sdk.Message{{Role: "assistant", Content: "ok"}}})
			}
			if err := c.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			if st := c.Stats(); st.Sent != 3 {
				t.Fatalf("stats %+v", st)
			}
			opts, err := k.Opts()
			if err != nil {
				t.Fatal(err)
			}
			cl, err := kgo.NewClient(append(opts, kgo.SeedBrokers(k.Brokers...), kgo.ConsumeTopics(schemas.TopicEvents))...)
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			n := 0
			for n < 3 && ctx.Err() == nil {
				cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
					ev, err := schemas.Decode(r.Value)
					if err != nil {
						t.Errorf("record does not decode: %v", err)
					} else if ev.GetApp() == app {
						n++
					}
				})
			}
			if n != 3 {
				t.Fatalf("read %d of 3 events", n)
			}
		})
	}
	// The whole kafka: shape at once, password from the environment.
	t.Setenv("SIGHTLINE_TEST_KAFKA_PASSWORD", kafkatest.Password)
	k := b.Config(kafkaconf.MechanismScramSHA512)
	k.SASL.Password, k.SASL.PasswordEnv = "", "SIGHTLINE_TEST_KAFKA_PASSWORD"
	c, err := sdk.NewClient(sdk.App("secured-app"), sdk.Kafka(k))
	if err != nil {
		t.Fatal(err)
	}
	h := c.Start(sdk.Request{Model: "gpt-4o"})
	h.Finish(sdk.Response{})
	if err := c.Close(context.Background()); err != nil || c.Stats().Sent != 1 {
		t.Fatalf("sdk.Kafka: %v, %+v", err, c.Stats())
	}
}

// Settings the brokers refuse fail NewClient at once, naming the option;
// brokers that do not answer do not.
func TestKafkaSettingsRefused(t *testing.T) {
	b := kafkatest.Start(t, kafkatest.Options{TLS: true, SASL: true})
	other := kafkatest.NewCA(t, "other")
	good := b.Config(kafkaconf.MechanismScramSHA256)
	wrongPassword := good.SASL
	wrongPassword.Password = "not-" + kafkatest.Password
	wrongMechanism := good.SASL
	wrongMechanism.Mechanism = kafkaconf.MechanismScramSHA512 // the user has SCRAM-SHA-256 credentials only
	for _, tc := range []struct {
		name string
		opts []sdk.Opt
		want string
	}{
		{"wrong password", []sdk.Opt{sdk.KafkaTLS(good.TLS), sdk.KafkaSASL(wrongPassword)}, "KafkaSASL.password"},
		{"wrong mechanism", []sdk.Opt{sdk.KafkaTLS(good.TLS), sdk.KafkaSASL(wrongMechanism)}, "KafkaSASL.mechanism"},
		{"unknown mechanism", []sdk.Opt{sdk.KafkaSASL(kafkaconf.SASL{Mechanism: "SCRAM-SHA-1", Username: "u", Password: "p"})}, "invalid sdk option KafkaSASL.mechanism"},
		{"CA that did not sign the broker", []sdk.Opt{sdk.KafkaTLS(kafkaconf.TLS{CAFile: other.CAFile}), sdk.KafkaSASL(good.SASL)}, "KafkaTLS.ca_file"},
		{"no TLS", []sdk.Opt{sdk.KafkaSASL(good.SASL)}, "KafkaTLS.enabled"},
		{"no password", []sdk.Opt{sdk.KafkaSASL(kafkaconf.SASL{Mechanism: "PLAIN", Username: "u"})}, "KafkaSASL.password"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			c, err := sdk.NewClient(append([]sdk.Opt{sdk.App("a"), sdk.Brokers(good.Brokers...)}, tc.opts...)...)
			if err == nil {
				c.Close(context.Background())
				t.Fatal("NewClient accepted settings the broker refuses")
			}
			if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), kafkatest.Password) {
				t.Fatalf("want an error naming %s (and no password), got %v", tc.want, err)
			}
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("took %s to refuse", took)
			}
		})
	}
	c, err := sdk.NewClient(sdk.App("a"), sdk.Brokers("127.0.0.1:1"), sdk.KafkaSASL(good.SASL))
	if err != nil {
		t.Fatalf("an unreachable broker must not fail NewClient: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := c.Close(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Logf("close: %v", err)
	}
}

// A client for brokers that require TLS and SCRAM, the password from the
// environment (a Kubernetes Secret, say).
func ExampleKafkaSASL() {
	client, err := sdk.NewClient(sdk.App("checkout-bot"), sdk.Brokers("kafka-0.kafka:9093", "kafka-1.kafka:9093"),
		sdk.KafkaTLS(kafkaconf.TLS{CAFile: "/etc/kafka/ca.pem"}),
		sdk.KafkaSASL(kafkaconf.SASL{Mechanism: "SCRAM-SHA-512", Username: "checkout-bot", PasswordEnv: "KAFKA_PASSWORD"}))
	if err != nil {
		panic(err) // a refused password or CA is reported here, naming the option
	}
	client.Close(context.Background())
}
