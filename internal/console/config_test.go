package console

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func loadConfig(t *testing.T, path string) Config {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c := DefaultConfig()
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestConfig(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	c := loadConfig(t, "testdata/config.yaml")
	if err := c.Validate(); err != nil {
		t.Fatalf("testdata/config.yaml: %v", err)
	}
	if c.RefreshInterval != 3*time.Second || c.PageSize != 100 || !strings.Contains(c.TraceLinkTemplate, "{span_id}") {
		t.Fatalf("loaded %+v", c)
	}
	err := loadConfig(t, "testdata/config_invalid.yaml").Validate()
	if err == nil {
		t.Fatal("testdata/config_invalid.yaml passed validation")
	}
	for _, key := range []string{"console.trace_link_template", "console.refresh_interval", "console.cache_ttl", "console.cache_entries",
		"console.page_size", "console.query_timeout"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("the error does not name %s: %v", key, err)
		}
	}
	if err := (Config{TraceLinkTemplate: "https://tempo/trace"}).Validate(); err == nil || !strings.Contains(err.Error(), "{trace_id}") {
		t.Errorf("a template without {trace_id}: %v", err)
	}
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{"127.0.0.1:8088": true, "localhost:8088": true, "[::1]:8088": true, "127.0.0.2:80": true,
		":8088": false, "0.0.0.0:8088": false, "[::]:8088": false, "10.0.0.5:8088": false, "example.com:80": false, "": false} {
		if got := IsLoopback(addr); got != want {
			t.Errorf("IsLoopback(%q) = %v", addr, got)
		}
		if err := (LoopbackOnly{ListenAddr: addr}).AllowContent(nil); (err == nil) != want {
			t.Errorf("LoopbackOnly{%q}: %v", addr, err)
		}
	}
}
