package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	c, err := Load(write("ok.yaml", "kafka:\n  brokers: [k1:9092, k2:9092]\nscore:\n  batch_size: 100\n  flush_interval: 250ms\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Kafka.Brokers) != 2 || c.Score.BatchSize != 100 || c.Score.FlushInterval != 250*time.Millisecond || c.HTTPAddr != "127.0.0.1:8088" {
		t.Fatalf("loaded %+v", c)
	}
	for name, tc := range map[string]struct{ body, want string }{
		"unknown key":          {"kafka:\n  brokrs: [x]\n", "brokrs"},
		"bad batch":            {"score:\n  batch_size: 0\n", "score.batch_size"},
		"unknown detector":     {"detectors:\n  toxicty: {enabled: false}\n", "toxicty"},
		"bad threshold":        {"detectors:\n  toxicity: {threshold: 2}\n", "detectors.toxicity.threshold"},
		"bad type":             {"score:\n  flush_interval: soon\n", "line 2"},
		"otlp without address": {"otlp:\n  enabled: true\n  http_addr: \"\"\n", "otlp.http_addr"},
		"bad evaluations url":  {"evaluations:\n  otlp_endpoint: 127.0.0.1:4318\n", "evaluations.otlp_endpoint"},
	} {
		_, err := Load(write(strings.ReplaceAll(name, " ", "_")+".yaml", tc.body))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error naming %q", name, err, tc.want)
		}
	}
}

func TestKafkaRetention(t *testing.T) {
	dir := t.TempDir()
	load := func(body string) (Config, error) {
		p := filepath.Join(dir, "c.yaml")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return Load(p)
	}
	c, err := load("")
	if err != nil || c.Kafka.Retention != 24*time.Hour || c.Kafka.RetentionBytes != 256<<20 {
		t.Fatalf("defaults: retention %s, retention_bytes %d, %v", c.Kafka.Retention, c.Kafka.RetentionBytes, err)
	}
	c, err = load("kafka:\n  retention: 72h\n  retention_bytes: 1073741824\n")
	if err != nil || c.Kafka.Retention != 72*time.Hour || c.Kafka.RetentionBytes != 1<<30 {
		t.Fatalf("set: retention %s, retention_bytes %d, %v", c.Kafka.Retention, c.Kafka.RetentionBytes, err)
	}
	if _, err := load("kafka:\n  retention: -1s\n  retention_bytes: -1\n"); err != nil {
		t.Fatalf("negative disables: %v", err)
	}
	for body, key := range map[string]string{
		"kafka:\n  retention: 0s\n":         "kafka.retention",
		"kafka:\n  retention: 10s\n":        "kafka.retention",
		"kafka:\n  retention_bytes: 0\n":    "kafka.retention_bytes",
		"kafka:\n  retention_bytes: 1024\n": "kafka.retention_bytes",
	} {
		if _, err := load(body); err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%q: got %v, want an error naming %s", body, err, key)
		}
	}
}
