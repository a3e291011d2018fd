package auth

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

type fileConfig struct {
	Auth Config    `yaml:"auth"`
	TLS  TLSConfig `yaml:"tls"`
}

func loadTestConfig(t *testing.T, path string) (fileConfig, error) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c := fileConfig{Auth: DefaultConfig()}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	if err := c.Auth.Validate(); err != nil {
		return c, err
	}
	return c, c.TLS.Validate()
}

func TestConfigFiles(t *testing.T) {
	c, err := loadTestConfig(t, "testdata/config.yaml")
	if err != nil {
		t.Fatalf("testdata/config.yaml: %v", err)
	}
	if !c.Auth.Enabled || c.Auth.TenantMismatch != Refuse || c.Auth.RateLimit.RequestsPerSecond != 20 || c.Auth.RefreshInterval.Seconds() != 2 {
		t.Errorf("loaded %+v", c.Auth)
	}
	_, err = loadTestConfig(t, "testdata/config_invalid.yaml")
	if err == nil {
		t.Fatal("testdata/config_invalid.yaml was accepted")
	}
	for _, key := range []string{"auth.refresh_interval", "auth.tenant_mismatch", "auth.metrics", "auth.rate_limit.burst"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("the error does not name %s: %v", key, err)
		}
	}
	if err := (TLSConfig{CertFile: "a.pem"}).Validate(); err == nil {
		t.Error("a certificate without its key was accepted")
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("zero config: %v", err)
	}
}
