package kafkaconf_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/sightline-dev/sightline/schemas/kafkaconf"
)

const secret = "hunter2-never-printed"

func TestValidate(t *testing.T) {
	tlsOn := kafkaconf.TLS{Enabled: true}
	scram := kafkaconf.SASL{Mechanism: "SCRAM-SHA-512", Username: "u", Password: secret}
	for _, tc := range []struct {
		name string
		c    kafkaconf.Config
		keys []string // every key the error must name; none: valid
	}{
		{"zero value is plaintext", kafkaconf.Config{}, nil},
		{"brokers", kafkaconf.Config{Brokers: []string{"a:9092", "10.0.0.1:9093"}}, nil},
		{"broker without port", kafkaconf.Config{Brokers: []string{"kafka"}}, []string{"kafka.brokers[0]"}},
		{"broker with bad port", kafkaconf.Config{Brokers: []string{"a:1", "kafka:99999"}}, []string{"kafka.brokers[1]"}},
		{"tls alone", kafkaconf.Config{TLS: tlsOn}, nil},
		{"tls full", kafkaconf.Config{TLS: kafkaconf.TLS{Enabled: true, CAFile: "ca", CertFile: "c", KeyFile: "k", ServerName: "n"}}, nil},
		{"tls keys without enabled", kafkaconf.Config{TLS: kafkaconf.TLS{CAFile: "ca", ServerName: "n"}},
			[]string{"kafka.tls.ca_file", "kafka.tls.server_name", "kafka.tls.enabled"}},
		{"cert without key", kafkaconf.Config{TLS: kafkaconf.TLS{Enabled: true, CertFile: "c"}}, []string{"kafka.tls.cert_file", "kafka.tls.key_file"}},
		{"skip verify with a CA", kafkaconf.Config{TLS: kafkaconf.TLS{Enabled: true, CAFile: "ca", InsecureSkipVerify: true}},
			[]string{"kafka.tls.insecure_skip_verify"}},
		{"scram", kafkaconf.Config{SASL: scram}, nil},
		{"mechanism in lower case", kafkaconf.Config{SASL: kafkaconf.SASL{Mechanism: "scram-sha-256", Username: "u", PasswordEnv: "P"}}, nil},
		{"plain", kafkaconf.Config{SASL: kafkaconf.SASL{Mechanism: "PLAIN", Username: "u", Password: "p"}}, nil},
		{"unknown mechanism", kafkaconf.Config{SASL: kafkaconf.SASL{Mechanism: "GSSAPI", Username: "u", Password: "p"}}, []string{"kafka.sasl.mechanism"}},
		{"username without mechanism", kafkaconf.Config{SASL: kafkaconf.SASL{Username: "u", Password: "p"}}, []string{"kafka.sasl.mechanism"}},
		{"no username", kafkaconf.Config{SASL: kafkaconf.SASL{Mechanism: "PLAIN", Password: "p"}}, []string{"kafka.sasl.username"}},
		{"no password", kafkaconf.Config{SASL: kafkaconf.SASL{Mechanism: "PLAIN", Username: "u"}}, []string{"kafka.sasl.password", "kafka.sasl.password_env"}},
		{"two passwords", kafkaconf.Config{SASL: kafkaconf.SASL{Mechanism: "PLAIN", Username: "u", Password: secret, PasswordEnv: "P"}},
			[]string{"kafka.sasl.password", "kafka.sasl.password_env"}},
		{"spelled for the collector", kafkaconf.Config{Brokers: []string{"x"}, Key: func(n string) string { return strings.ReplaceAll(n, ".", "::") }},
			[]string{"brokers[0]:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.c.Validate()
			if len(tc.keys) == 0 {
				if err != nil {
					t.Fatalf("valid config refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("invalid config accepted")
			}
			for _, k := range tc.keys {
				if !strings.Contains(err.Error(), k) {
					t.Errorf("error does not name %s: %v", k, err)
				}
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
}

func TestOptsErrors(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SIGHTLINE_TEST_EMPTY_PASSWORD", "")
	for _, tc := range []struct {
		name string
		c    kafkaconf.Config
		key  string
	}{
		{"missing CA file", kafkaconf.Config{TLS: kafkaconf.TLS{Enabled: true, CAFile: filepath.Join(dir, "none.pem")}}, "kafka.tls.ca_file"},
		{"CA file without PEM", kafkaconf.Config{TLS: kafkaconf.TLS{Enabled: true, CAFile: notPEM}}, "kafka.tls.ca_file"},
		{"missing client certificate", kafkaconf.Config{TLS: kafkaconf.TLS{Enabled: true, CertFile: notPEM, KeyFile: notPEM}}, "kafka.tls.cert_file"},
		{"password variable unset", kafkaconf.Config{SASL: kafkaconf.SASL{Mechanism: "PLAIN", Username: "u", PasswordEnv: "SIGHTLINE_TEST_UNSET_PASSWORD"}},
			"kafka.sasl.password_env"},
		{"password variable empty", kafkaconf.Config{SASL: kafkaconf.SASL{Mechanism: "PLAIN", Username: "u", PasswordEnv: "SIGHTLINE_TEST_EMPTY_PASSWORD"}},
			"kafka.sasl.password_env"},
		{"invalid", kafkaconf.Config{SASL: kafkaconf.SASL{Mechanism: "MD5", Username: "u", Password: secret}}, "kafka.sasl.mechanism"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.c.Opts()
			if err == nil || !strings.Contains(err.Error(), tc.key) {
				t.Fatalf("want an error naming %s, got %v", tc.key, err)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
	t.Setenv("SIGHTLINE_TEST_PASSWORD", secret)
	c := kafkaconf.Config{SASL: kafkaconf.SASL{Mechanism: "scram-sha-512", Username: "u", PasswordEnv: "SIGHTLINE_TEST_PASSWORD"}}
	if opts, err := c.Opts(); err != nil || len(opts) != 1 {
		t.Fatalf("password from the environment: %d options, %v", len(opts), err)
	}
	if opts, err := (&kafkaconf.Config{}).Opts(); err != nil || len(opts) != 0 {
		t.Fatalf("plaintext needs no options: %d, %v", len(opts), err)
	}
}

// The config file's section decodes into Config, and the password never
// leaves through fmt, slog, YAML or JSON.
func TestYAMLAndSecret(t *testing.T) {
	src := `
brokers: [kafka-0:9093]
tls: {enabled: true, ca_file: /etc/kafka/ca.pem, server_name: kafka.internal}
sasl: {mechanism: SCRAM-SHA-256, username: sightline, password: ` + secret + `}
`
	var c kafkaconf.Config
	dec := yaml.NewDecoder(strings.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	if c.Brokers[0] != "kafka-0:9093" || !c.TLS.Enabled || c.TLS.CAFile != "/etc/kafka/ca.pem" || c.TLS.ServerName != "kafka.internal" ||
		c.SASL.Mechanism != "SCRAM-SHA-256" || c.SASL.Username != "sightline" || string(c.SASL.Password) != secret {
		t.Fatalf("not decoded: %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	fmt.Fprintf(&out, "%v %+v %#v %s\n", c, c, c, c.SASL.Password)
	slog.New(slog.NewTextHandler(&out, nil)).Info("config", "kafka", c, "password", c.SASL.Password)
	slog.New(slog.NewJSONHandler(&out, nil)).Info("config", "kafka", c)
	y, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	out.Write(y)
	j, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	out.Write(j)
	if strings.Contains(out.String(), secret) {
		t.Fatalf("the password was printed:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "[REDACTED]") {
		t.Fatalf("no sign of the password field:\n%s", out.String())
	}
	if kafkaconf.Secret("").String() != "" {
		t.Error("an empty secret should print empty (nothing to hide, and it shows it is unset)")
	}
	var unknown kafkaconf.Config
	dec = yaml.NewDecoder(strings.NewReader("tls: {enabled: true, server_name_override: x}"))
	dec.KnownFields(true)
	if err := dec.Decode(&unknown); err == nil || !strings.Contains(err.Error(), "server_name_override") {
		t.Errorf("unknown key accepted: %v", err)
	}
}
