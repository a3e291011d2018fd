package console

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Config is the `console:` section of the configuration file.
type Config struct {
	// Enabled serves the Console at / of `sightline up`'s HTTP address
	// (default true).
	Enabled bool `yaml:"enabled"`
	// TraceLinkTemplate links a call's trace and span ids to the tracing
	// backend: an http(s) URL with {trace_id} and optionally {span_id},
	// e.g. http://jaeger:16686/trace/{trace_id} (default: no link).
	TraceLinkTemplate string `yaml:"trace_link_template"`
	// RefreshInterval is how often an open page asks whether new calls,
	// windows or alert changes arrived (default 2s; at most 5s, the
	// Console's promise to show them within 5 s).
	RefreshInterval time.Duration `yaml:"refresh_interval"`
	// CacheTTL is how long a read's result is shared by every page that
	// needs it (default 1s).
	CacheTTL time.Duration `yaml:"cache_ttl"`
	// CacheEntries bounds the shared results cache (default 512).
	CacheEntries int `yaml:"cache_entries"`
	// PageSize is the calls explorer's default page (default 50, at most
	// 200).
	PageSize int `yaml:"page_size"`
	// QueryTimeout bounds one read (default 10s).
	QueryTimeout time.Duration `yaml:"query_timeout"`
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{Enabled: true, RefreshInterval: 2 * time.Second, CacheTTL: time.Second, CacheEntries: 512, PageSize: 50,
		QueryTimeout: 10 * time.Second}
}

// withDefaults fills zero values (a Config built in code rather than
// loaded over DefaultConfig).
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.RefreshInterval == 0 {
		c.RefreshInterval = d.RefreshInterval
	}
	if c.CacheTTL == 0 {
		c.CacheTTL = d.CacheTTL
	}
	if c.CacheEntries == 0 {
		c.CacheEntries = d.CacheEntries
	}
	if c.PageSize == 0 {
		c.PageSize = d.PageSize
	}
	if c.QueryTimeout == 0 {
		c.QueryTimeout = d.QueryTimeout
	}
	return c
}

// Validate checks the values, naming the YAML key of anything wrong.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("console.%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if t := c.TraceLinkTemplate; t != "" {
		u, err := url.Parse(strings.NewReplacer("{trace_id}", "x", "{span_id}", "x").Replace(t))
		switch {
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			bad("trace_link_template", "must be an http(s) URL, got %q", t)
		case !strings.Contains(t, "{trace_id}"):
			bad("trace_link_template", "must contain {trace_id}, got %q", t)
		}
	}
	if c.RefreshInterval != 0 && (c.RefreshInterval < 500*time.Millisecond || c.RefreshInterval > 5*time.Second) {
		bad("refresh_interval", "must be between 500ms and 5s, got %s", c.RefreshInterval)
	}
	if c.CacheTTL < 0 || c.CacheTTL > time.Minute {
		bad("cache_ttl", "must be between 0 and 1m, got %s", c.CacheTTL)
	}
	if c.CacheEntries < 0 || c.CacheEntries > 100000 {
		bad("cache_entries", "must be between 1 and 100000, got %d", c.CacheEntries)
	}
	if c.PageSize < 0 || c.PageSize > maxPageSize {
		bad("page_size", "must be between 10 and %d, got %d", maxPageSize, c.PageSize)
	} else if c.PageSize != 0 && c.PageSize < minPageSize {
		bad("page_size", "must be between %d and %d, got %d", minPageSize, maxPageSize, c.PageSize)
	}
	if c.QueryTimeout < 0 {
		bad("query_timeout", "must not be negative, got %s", c.QueryTimeout)
	}
	return errors.Join(errs...)
}
