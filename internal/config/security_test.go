package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sightline-dev/sightline/internal/auth"
)

// The auth:, tls: and reads: sections load over their defaults, and a bad
// value is an error naming its key.
func TestSecuritySections(t *testing.T) {
	load := func(yaml string) (Config, error) {
		p := filepath.Join(t.TempDir(), "c.yaml")
		if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		return Load(p)
	}
	c, err := load("auth:\n  enabled: true\n  keys_file: /k.json\n  tenant_mismatch: refuse\nreads:\n  max_concurrent: 2\n")
	if err != nil {
		t.Fatal(err)
	}
	if !c.Auth.Enabled || c.Auth.KeysFile != "/k.json" || c.Auth.TenantMismatch != auth.Refuse || c.Auth.RefreshInterval != 5*time.Second ||
		c.Auth.Metrics != auth.MetricsRead || c.Reads.MaxConcurrent != 2 || c.Reads.QueueTimeout != 2*time.Second || c.TLS.Enabled() {
		t.Fatalf("loaded %+v %+v %+v", c.Auth, c.Reads, c.TLS)
	}
	for yaml, want := range map[string]string{
		"auth:\n  refresh_interval: 1m\n":  "auth.refresh_interval",
		"auth:\n  tenant_mismatch: drop\n": "auth.tenant_mismatch",
		"auth:\n  metrics: everyone\n":     "auth.metrics",
		"auth:\n  password: x\n":           "password",
		"tls:\n  cert_file: /c.pem\n":      "cert_file and key_file",
		"reads:\n  max_concurrent: 5000\n": "reads.max_concurrent",
		"reads:\n  queue_timeout: -1s\n":   "reads.queue_timeout",
	} {
		if _, err := load(yaml); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error naming %s", yaml, err, want)
		}
	}
}
