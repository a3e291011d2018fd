package auth

import (
	"errors"
	"fmt"
	"time"
)

// Config is the `auth:` section of the configuration file.
type Config struct {
	// Enabled requires an API key on every surface that takes or gives
	// data (default false; required when listening beyond loopback,
	// unless Insecure).
	Enabled bool `yaml:"enabled"`
	// KeysFile keeps the keys' hashes in this file instead of ClickHouse's
	// llm_api_keys (a single node, or sightline-collector without
	// ClickHouse). Default: ClickHouse.
	KeysFile string `yaml:"keys_file"`
	// RefreshInterval: how often every process reloads the keys, and so
	// the longest a revoked key keeps working (default 5s, at most 10s).
	// An unknown key reloads them at once (at most once a second), so a
	// new key works immediately.
	RefreshInterval time.Duration `yaml:"refresh_interval"`
	// MaxKeys bounds the keys a process holds (default 10000); beyond it
	// the reload fails and the last keys loaded stay in force.
	MaxKeys int `yaml:"max_keys"`
	// TenantMismatch: what happens to an event claiming a tenant other
	// than its key's: relabel (default: stored under the key's tenant)
	// or refuse (rejected; 403 when no event of the request is stored).
	TenantMismatch TenantMismatch `yaml:"tenant_mismatch"`
	// Metrics: who may read /metrics when auth is enabled: read (default:
	// a read or admin key of any tenant; metrics carry no tenant), admin,
	// or open (no key, e.g. a scraper on a private network).
	Metrics string `yaml:"metrics"`
	// RateLimit bounds each key's requests.
	RateLimit RateLimitConfig `yaml:"rate_limit"`
	// Insecure lets Sightline listen beyond loopback without
	// authentication (--insecure): for a network where something in
	// front of it authenticates.
	Insecure bool `yaml:"insecure"`
}

// RateLimitConfig is a token bucket per key.
type RateLimitConfig struct {
	// RequestsPerSecond each key may make on average (default 50); a
	// negative value turns the limit off.
	RequestsPerSecond float64 `yaml:"requests_per_second"`
	// Burst is how many requests a key may make at once after a pause
	// (default 100).
	Burst int `yaml:"burst"`
}

// Metrics access levels.
const (
	MetricsOpen  = "open"
	MetricsRead  = "read"
	MetricsAdmin = "admin"
)

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{RefreshInterval: 5 * time.Second, MaxKeys: 10000, TenantMismatch: Relabel, Metrics: MetricsRead,
		RateLimit: RateLimitConfig{RequestsPerSecond: 50, Burst: 100}}
}

// WithDefaults fills zero values (a Config built in code rather than
// loaded over DefaultConfig).
func (c Config) WithDefaults() Config {
	d := DefaultConfig()
	if c.RefreshInterval == 0 {
		c.RefreshInterval = d.RefreshInterval
	}
	if c.MaxKeys == 0 {
		c.MaxKeys = d.MaxKeys
	}
	if c.TenantMismatch == "" {
		c.TenantMismatch = d.TenantMismatch
	}
	if c.Metrics == "" {
		c.Metrics = d.Metrics
	}
	if c.RateLimit.RequestsPerSecond == 0 {
		c.RateLimit.RequestsPerSecond = d.RateLimit.RequestsPerSecond
	}
	if c.RateLimit.Burst == 0 {
		c.RateLimit.Burst = d.RateLimit.Burst
	}
	return c
}

// MaxRefresh is the longest refresh interval: the bound on how long a
// revoked key keeps working.
const MaxRefresh = 10 * time.Second

// Validate checks the values (zero ones as their defaults), naming the
// YAML key of anything wrong.
func (c Config) Validate() error {
	c = c.WithDefaults()
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("auth.%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if c.RefreshInterval < 100*time.Millisecond || c.RefreshInterval > MaxRefresh {
		bad("refresh_interval", "must be between 100ms and %s (how long a revoked key may keep working), got %s", MaxRefresh, c.RefreshInterval)
	}
	if c.MaxKeys < 1 || c.MaxKeys > 1_000_000 {
		bad("max_keys", "must be between 1 and 1000000, got %d", c.MaxKeys)
	}
	if c.TenantMismatch != Relabel && c.TenantMismatch != Refuse {
		bad("tenant_mismatch", "must be relabel or refuse, got %q", c.TenantMismatch)
	}
	if c.Metrics != MetricsOpen && c.Metrics != MetricsRead && c.Metrics != MetricsAdmin {
		bad("metrics", "must be open, read or admin, got %q", c.Metrics)
	}
	if c.RateLimit.RequestsPerSecond > 0 && c.RateLimit.Burst < 1 {
		bad("rate_limit.burst", "must be at least 1, got %d", c.RateLimit.Burst)
	}
	return errors.Join(errs...)
}
