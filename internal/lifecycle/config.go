package lifecycle

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Duration is a length of time written with days allowed: "30d", "90d",
// "1d12h", or anything time.ParseDuration takes ("36h", "90m"). "0" is
// zero. Retention is counted in days, which Go's durations do not spell.
type Duration time.Duration

var daysRE = regexp.MustCompile(`^([0-9]+)d(.*)$`)

// ParseDuration reads a Duration.
func ParseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("empty duration")
	}
	var d time.Duration
	rest := s
	if m := daysRE.FindStringSubmatch(s); m != nil {
		n, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil || n > 100*365 {
			return 0, fmt.Errorf("%q: at most %d days", s, 100*365)
		}
		d, rest = time.Duration(n)*24*time.Hour, m[2]
	}
	if rest != "" {
		r, err := time.ParseDuration(rest)
		if err != nil {
			return 0, fmt.Errorf("%q is not a duration like 30d, 1d12h or 36h", s)
		}
		if r < 0 {
			return 0, fmt.Errorf("%q is negative", s)
		}
		d += r
	}
	return Duration(d), nil
}

// String prints whole days as "30d", anything else as Go does.
func (d Duration) String() string {
	td := time.Duration(d)
	if td != 0 && td%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(td/(24*time.Hour)), 10) + "d"
	}
	return td.String()
}

// UnmarshalYAML reads the scalar forms ParseDuration takes.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: want a duration like 30d", n.Line)
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = v
	return nil
}

// MarshalYAML writes the form String prints, which UnmarshalYAML reads.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// Config is the `retention:` section of the configuration file: how long
// the rows of calls, and what derives from each call, are kept per tenant
// (see Tables for which tables). It is decoded over DefaultConfig and
// validated as it is read, so a section that is absent means the defaults
// and a wrong value is an error naming its key.
type Config struct {
	// Default is how long a tenant without its own entry keeps its rows
	// (retention.default, default 30d; 0 keeps them forever).
	Default Duration `yaml:"default"`
	// Tenants overrides Default per tenant (retention.tenants, e.g.
	// {acme: 90d}; 0 keeps that tenant's rows forever).
	Tenants map[string]Duration `yaml:"tenants"`
	// Interval is how often `up` and `sightline aggregate` apply the
	// retention (retention.interval, default 24h; the first run is a
	// minute after start). A row lives at most its retention plus the
	// interval. Each run that finds expired rows in a partition that
	// still holds younger ones rewrites that partition's parts (a
	// ClickHouse mutation), so running it more often than daily costs
	// more than it gains.
	Interval Duration `yaml:"interval"`

	// set marks a Config that holds its defaults (DefaultConfig, or
	// decoded from a file): the zero Config is "use the defaults".
	set bool
}

const (
	defaultRetention = Duration(30 * 24 * time.Hour)
	defaultInterval  = Duration(24 * time.Hour)
	// minRetention keeps a typo ("30m" for "30d") from wiping a tenant:
	// an hour is shorter than anything a privacy rule asks for.
	minRetention = Duration(time.Hour)
	minInterval  = Duration(time.Minute)
)

// DefaultConfig returns the documented defaults: 30 days for every
// tenant, applied every 24 hours.
func DefaultConfig() Config {
	return Config{Default: defaultRetention, Interval: defaultInterval, set: true}
}

// WithDefaults returns c, or DefaultConfig when c is the zero Config (no
// retention section, or a Config built in code without one).
func (c Config) WithDefaults() Config {
	if !c.set && c.Default == 0 && len(c.Tenants) == 0 && c.Interval == 0 {
		return DefaultConfig()
	}
	if c.Interval == 0 {
		c.Interval = defaultInterval
	}
	c.set = true
	return c
}

// UnmarshalYAML decodes the section over the defaults and validates it.
func (c *Config) UnmarshalYAML(n *yaml.Node) error {
	type plain Config // without this method
	// Node.Decode forgets the file decoder's KnownFields: check the keys
	// here, so a typo is an error as everywhere else in the file.
	if n.Kind == yaml.MappingNode {
		for i := 0; i < len(n.Content); i += 2 {
			switch k := n.Content[i]; k.Value {
			case "default", "tenants", "interval":
			default:
				return fmt.Errorf("line %d: retention.%s is not a setting (default, tenants, interval)", k.Line, k.Value)
			}
		}
	}
	v := plain(DefaultConfig())
	if err := n.Decode(&v); err != nil {
		return err
	}
	*c = Config(v)
	c.set = true
	return c.Validate()
}

// Validate checks the values, naming the YAML key of anything wrong.
func (c Config) Validate() error {
	c = c.WithDefaults()
	check := func(key string, d Duration) error {
		if d != 0 && d < minRetention {
			return fmt.Errorf("retention.%s must be at least %s (or 0 to keep rows forever), got %s", key, minRetention, d)
		}
		return nil
	}
	if err := check("default", c.Default); err != nil {
		return err
	}
	names := make([]string, 0, len(c.Tenants))
	for t := range c.Tenants {
		names = append(names, t)
	}
	sort.Strings(names)
	for _, t := range names {
		if err := check("tenants."+t, c.Tenants[t]); err != nil {
			return err
		}
	}
	if c.Interval < minInterval {
		return fmt.Errorf("retention.interval must be at least %s, got %s", minInterval, c.Interval)
	}
	return nil
}

// For returns how long tenant's rows are kept (0: forever).
func (c Config) For(tenant string) time.Duration {
	c = c.WithDefaults()
	if d, ok := c.Tenants[tenant]; ok {
		return time.Duration(d)
	}
	return time.Duration(c.Default)
}
