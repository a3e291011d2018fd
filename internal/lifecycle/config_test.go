package lifecycle

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

const day = 24 * time.Hour

func TestParseDuration(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		err  string
	}{
		{"30d", 30 * day, ""},
		{"90d", 90 * day, ""},
		{"1d12h", 36 * time.Hour, ""},
		{"36h", 36 * time.Hour, ""},
		{"90m", 90 * time.Minute, ""},
		{"0", 0, ""},
		{"0d", 0, ""},
		{" 7d ", 7 * day, ""},
		{"", 0, "empty"},
		{"30", 0, "not a duration"},
		{"d", 0, "not a duration"},
		{"1.5d", 0, "not a duration"},
		{"-30d", 0, "not a duration"},
		{"1d-1h", 0, "negative"},
		{"99999d", 0, "at most"},
		{"30 days", 0, "not a duration"},
	} {
		got, err := ParseDuration(tc.in)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("ParseDuration(%q) = %v, %v; want an error mentioning %q", tc.in, got, err, tc.err)
		case tc.err == "" && (err != nil || time.Duration(got) != tc.want):
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, d := range []Duration{Duration(30 * day), Duration(36 * time.Hour), 0, Duration(90 * time.Minute)} {
		back, err := ParseDuration(d.String())
		if err != nil || back != d {
			t.Errorf("%v prints as %q, which reads back as %v, %v", time.Duration(d), d.String(), back, err)
		}
	}
}

func decode(t *testing.T, text string) (Config, error) {
	t.Helper()
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader([]byte(text)))
	dec.KnownFields(true)
	err := dec.Decode(&c)
	return c, err
}

func TestConfigFile(t *testing.T) {
	b, err := os.ReadFile("testdata/retention.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := decode(t, string(b))
	if err != nil {
		t.Fatal(err)
	}
	for tenant, want := range map[string]time.Duration{"acme": 90 * day, "audit-heavy": 36 * time.Hour, "keep-forever": 0, "other": 30 * day} {
		if got := c.For(tenant); got != want {
			t.Errorf("For(%q) = %v, want %v", tenant, got, want)
		}
	}
	if c.Interval != Duration(12*time.Hour) {
		t.Errorf("interval %v", c.Interval)
	}
	b, _ = os.ReadFile("testdata/retention_invalid.yaml")
	if _, err := decode(t, string(b)); err == nil || !strings.Contains(err.Error(), "retention.default") {
		t.Fatalf("the invalid file decoded with %v; want an error naming retention.default", err)
	}
}

func TestConfigDefaultsAndErrors(t *testing.T) {
	// No section, or an empty one: 30 days for everyone, daily.
	for _, c := range []Config{{}, DefaultConfig()} {
		c = c.WithDefaults()
		if c.For("anyone") != 30*day || c.Interval != Duration(day) {
			t.Errorf("defaults: %+v", c)
		}
	}
	c, err := decode(t, "tenants: {acme: 90d}\n")
	if err != nil || c.For("acme") != 90*day || c.For("b") != 30*day || c.Interval != Duration(day) {
		t.Fatalf("partial section: %+v, %v", c, err)
	}
	c, err = decode(t, "default: 0\n")
	if err != nil || c.For("b") != 0 {
		t.Fatalf("default 0 keeps rows: %+v, %v", c, err)
	}
	for _, tc := range []struct{ text, want string }{
		{"default: 30m\n", "retention.default must be at least 1h"},
		{"tenants: {acme: 10m}\n", "retention.tenants.acme"},
		{"interval: 10s\n", "retention.interval must be at least 1m"},
		{"default: forever\n", "not a duration"},
		{"tenants: [acme]\n", "cannot unmarshal"},
		{"defaults: 30d\n", "retention.defaults is not a setting"},
	} {
		if _, err := decode(t, tc.text); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want an error mentioning %q", tc.text, err, tc.want)
		}
	}
	out, err := yaml.Marshal(Config{Default: Duration(30 * day), Tenants: map[string]Duration{"acme": Duration(90 * day)}, Interval: Duration(day)})
	if err != nil || !strings.Contains(string(out), "default: 30d") || !strings.Contains(string(out), "acme: 90d") {
		t.Fatalf("marshalled as %s, %v", out, err)
	}
}

func TestCutoffs(t *testing.T) {
	now := time.Date(2026, 6, 15, 12, 0, 0, 500, time.UTC)
	c := Config{Default: Duration(30 * day), Tenants: map[string]Duration{"acme": Duration(90 * day), "keep": 0}, Interval: Duration(day)}
	cut := c.Cutoffs(now)
	if want := time.Date(2026, 5, 16, 12, 0, 0, 0, time.UTC); !cut.Default.Equal(want) {
		t.Errorf("default cutoff %v, want %v", cut.Default, want)
	}
	if got, want := cut.Before("acme"), time.Date(2026, 3, 17, 12, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("acme cutoff %v, want %v", got, want)
	}
	if !cut.Before("keep").IsZero() {
		t.Errorf("keep cutoff %v, want none", cut.Before("keep"))
	}
	if got := latest(cut); !got.Equal(cut.Default) {
		t.Errorf("latest %v", got)
	}
}
