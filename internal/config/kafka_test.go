package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The kafka section's tls and sasl keys are schemas/kafkaconf's, checked
// at load with the key named as the file spells it.
func TestKafkaSecurity(t *testing.T) {
	dir := t.TempDir()
	load := func(body string) (Config, error) {
		p := filepath.Join(dir, "c.yaml")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return Load(p)
	}
	c, err := load(`kafka:
  brokers: [kafka-0:9093]
  tls: {enabled: true, ca_file: /etc/sightline/kafka/ca.pem, server_name: kafka.internal}
  sasl: {mechanism: SCRAM-SHA-512, username: sightline, password_env: SIGHTLINE_KAFKA_PASSWORD}
  partitions: 8
`)
	if err != nil {
		t.Fatal(err)
	}
	k := c.Kafka
	if k.Brokers[0] != "kafka-0:9093" || !k.TLS.Enabled || k.TLS.CAFile != "/etc/sightline/kafka/ca.pem" || k.TLS.ServerName != "kafka.internal" ||
		k.SASL.Mechanism != "SCRAM-SHA-512" || k.SASL.Username != "sightline" || k.SASL.PasswordEnv != "SIGHTLINE_KAFKA_PASSWORD" || k.Partitions != 8 {
		t.Fatalf("loaded %+v", k)
	}
	for name, tc := range map[string]struct{ body, want string }{
		"unknown tls key":     {"kafka:\n  tls: {enabled: true, ca: x}\n", "ca"},
		"unknown mechanism":   {"kafka:\n  sasl: {mechanism: OAUTHBEARER, username: u, password: p}\n", "kafka.sasl.mechanism"},
		"no password":         {"kafka:\n  sasl: {mechanism: PLAIN, username: u}\n", "kafka.sasl.password"},
		"tls keys, tls off":   {"kafka:\n  tls: {ca_file: /ca.pem}\n", "kafka.tls.enabled"},
		"broker without port": {"kafka:\n  brokers: [kafka]\n", "kafka.brokers[0]"},
	} {
		_, err := load(tc.body)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error naming %q", name, err, tc.want)
		}
	}
}
