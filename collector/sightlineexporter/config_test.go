package sightlineexporter

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/sightline-dev/sightline/schemas/kafkaconf"
)

func loadConfig(t *testing.T, name string) (*Config, error) {
	t.Helper()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sub, err := cm.Sub(component.MustNewIDWithName(Type.String(), name).String())
	if err != nil {
		t.Fatal(err)
	}
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	if err := sub.Unmarshal(cfg); err != nil {
		return nil, err
	}
	return cfg, confmap.Validate(cfg)
}

func TestConfigMinimal(t *testing.T) {
	cfg, err := loadConfig(t, "minimal")
	if err != nil {
		t.Fatalf("minimal config is invalid: %v", err)
	}
	if cfg.Topic != "sightline.events" || cfg.Compression != "lz4" || cfg.ClientID != "sightline-collector" ||
		cfg.MaxEventBytes != DefaultMaxEventBytes || cfg.TLS != (kafkaconf.TLS{}) || cfg.SASL != (kafkaconf.SASL{}) || !cfg.QueueBatchConfig.HasValue() ||
		cfg.Join.Wait != DefaultJoinWait || cfg.Join.MaxPending != DefaultJoinMaxPending {
		t.Errorf("defaults not applied: %+v", cfg)
	}
}

func TestConfigFull(t *testing.T) {
	cfg, err := loadConfig(t, "full")
	if err != nil {
		t.Fatalf("full config is invalid: %v", err)
	}
	switch {
	case len(cfg.Brokers) != 2, cfg.Topic != "llm.events", cfg.ClientID != "collector-eu1", cfg.Compression != "zstd",
		cfg.Tenant != "acme", cfg.MaxEventBytes != 4_000_000, cfg.Timeout != 10*time.Second:
		t.Errorf("fields not read: %+v", cfg)
	case !cfg.TLS.Enabled || cfg.TLS.CAFile != "/etc/sightline/kafka/ca.pem" || cfg.TLS.CertFile != "/etc/sightline/kafka/client.pem" ||
		cfg.TLS.KeyFile != "/etc/sightline/kafka/client-key.pem" || cfg.TLS.ServerName != "kafka.internal":
		t.Errorf("tls not read: %+v", cfg.TLS)
	case cfg.SASL.Mechanism != "SCRAM-SHA-512" || cfg.SASL.Username != "collector" || cfg.SASL.Password != kafkaconf.Secret("s3cret"):
		t.Errorf("sasl not read: %+v", cfg.SASL)
	case cfg.QueueBatchConfig.Get().QueueSize != 5000 || cfg.BackOffConfig.MaxInterval != 30*time.Second:
		t.Errorf("queue or retry not read")
	case cfg.Join.Wait != 3*time.Second || cfg.Join.MaxPending != 500:
		t.Errorf("join not read: %+v", cfg.Join)
	}
}

func TestConfigInvalid(t *testing.T) {
	_, err := loadConfig(t, "invalid")
	if err == nil {
		t.Fatal("invalid config accepted")
	}
	for _, key := range []string{"brokers:", "topic:", "compression:", "max_event_bytes:", "sasl::mechanism:", "sasl::password:"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("error does not name %s: %v", key, err)
		}
	}
	cfg, err := loadConfig(t, "secured_env")
	if err != nil || !cfg.TLS.Enabled || cfg.SASL.PasswordEnv != "KAFKA_PASSWORD" || cfg.SASL.Password != "" {
		t.Errorf("secured_env: %v, %+v", err, cfg)
	}
	_, err = loadConfig(t, "invalid_security")
	for _, key := range []string{"tls::ca_file:", "tls::cert_file:", "tls::key_file", "tls::enabled", "sasl::mechanism:", "sasl::password:", "sasl::password_env"} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("invalid_security: error does not name %s: %v", key, err)
		}
	}
	if err != nil && strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error shows the password: %v", err)
	}
	if _, err := loadConfig(t, "invalid_broker"); err == nil || !strings.Contains(err.Error(), "brokers[0]") {
		t.Errorf("broker without port: got %v", err)
	}
	_, err = loadConfig(t, "invalid_join")
	for _, key := range []string{"join::wait:", "join::max_pending:"} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("join settings out of bounds: error does not name %s: %v", key, err)
		}
	}
	if _, err := loadConfig(t, "invalid_join_wait"); err == nil || !strings.Contains(err.Error(), "join::wait:") {
		t.Errorf("negative join wait: got %v", err)
	}
	if _, err := loadConfig(t, "invalid_join_pending"); err == nil || !strings.Contains(err.Error(), "join::max_pending:") {
		t.Errorf("join max_pending beyond the bound: got %v", err)
	}
	if cfg, err := loadConfig(t, "join_off"); err != nil || cfg.Join.Wait != 0 {
		t.Errorf("join off: %+v, %v", cfg, err)
	}
}

func TestDefaultConfigNeedsBrokers(t *testing.T) {
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	if err := confmap.Validate(cfg); err == nil {
		t.Fatal("default config without brokers validated")
	}
	cfg.Brokers = []string{"127.0.0.1:19092"}
	if err := confmap.Validate(cfg); err != nil {
		t.Fatalf("default config with brokers: %v", err)
	}
}
