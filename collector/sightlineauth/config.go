package sightlineauth

import (
	"errors"
	"fmt"
	"time"

	"github.com/sightline-dev/sightline/internal/auth"
)

// Config of the extension.
type Config struct {
	// KeysFile is the JSON file of key hashes that `sightline keys
	// create --keys-file` writes (auth.keys_file). Required, unless the
	// host supplies its guard (sightline up --otlp).
	KeysFile string `mapstructure:"keys_file"`
	// RefreshInterval: how often the file is read again, and so the
	// longest a revoked key keeps working (default 5s, at most 10s).
	RefreshInterval time.Duration `mapstructure:"refresh_interval"`
	// RateLimit bounds each key's requests (default 50 per second,
	// bursts of 100; a negative rate turns it off).
	RateLimit RateLimitConfig `mapstructure:"rate_limit"`

	// withGuard: the host's guard replaces keys_file.
	withGuard bool
}

// RateLimitConfig is auth.rate_limit.
type RateLimitConfig struct {
	RequestsPerSecond float64 `mapstructure:"requests_per_second"`
	Burst             int     `mapstructure:"burst"`
}

func (c *Config) authConfig() auth.Config {
	return auth.Config{Enabled: true, KeysFile: c.KeysFile, RefreshInterval: c.RefreshInterval,
		RateLimit: auth.RateLimitConfig{RequestsPerSecond: c.RateLimit.RequestsPerSecond, Burst: c.RateLimit.Burst}}.WithDefaults()
}

// Validate checks the values, naming the key of anything wrong.
func (c *Config) Validate() error {
	var errs []error
	if c.KeysFile == "" && !c.withGuard {
		errs = append(errs, errors.New("keys_file: required (the file `sightline keys create --keys-file FILE` writes)"))
	}
	if err := c.authConfig().Validate(); err != nil {
		// auth names its keys auth.<key>; here they sit at the top.
		errs = append(errs, fmt.Errorf("%s", trimAuthPrefix(err.Error())))
	}
	return errors.Join(errs...)
}

func trimAuthPrefix(s string) string {
	out := []byte{}
	for i := 0; i < len(s); i++ {
		if (i == 0 || s[i-1] == '\n') && len(s)-i >= 5 && s[i:i+5] == "auth." {
			i += 4
			continue
		}
		out = append(out, s[i])
	}
	return string(out)
}
