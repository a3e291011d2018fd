package prometheus_test

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// promtool comes from the OS package "prometheus", which `make test`
// installs (deploy/scripts/ensure-deps.sh).
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool not found: install the OS package \"prometheus\" (`make test` does it through deploy/scripts/ensure-deps.sh): %v", err)
	}
	return p
}

func run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(promtool(t), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestRulesAreValid(t *testing.T) {
	out := run(t, "check", "rules", "sightline_rules.yml")
	if !strings.Contains(out, "SUCCESS") {
		t.Fatalf("promtool check rules:\n%s", out)
	}
	t.Log(strings.TrimSpace(out))
}

func TestRulesUnitTests(t *testing.T) {
	out := run(t, "test", "rules", "sightline_rules_test.yml")
	if !strings.Contains(out, "SUCCESS") {
		t.Fatalf("promtool test rules:\n%s", out)
	}
}

// The example scrape config loads and refers to the rules file.
func TestScrapeConfigIsValid(t *testing.T) {
	out := run(t, "check", "config", "prometheus.yml")
	if !strings.Contains(out, "sightline_rules.yml") {
		t.Fatalf("prometheus.yml does not load the rules:\n%s", out)
	}
}

// Every sightline_* metric the rules use is one a Sightline process
// exports: a renamed metric would otherwise silence its alert for good.
func TestRulesUseExportedMetrics(t *testing.T) {
	rules, err := os.ReadFile("sightline_rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	var src strings.Builder
	for _, f := range []string{"../../processors/score/metrics.go", "../../processors/aggregate/metrics.go", "../../processors/alert/engine.go",
		"../../sinks/otlp/evaluations.go", "../../collector/sightlineexporter/telemetry.go"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatalf("cannot read the metric definitions: %v", err)
		}
		src.Write(b)
	}
	defs := src.String()
	var exprs strings.Builder
	for _, line := range strings.Split(string(rules), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			exprs.WriteString(line + "\n")
		}
	}
	seen := map[string]bool{}
	for _, m := range regexp.MustCompile(`\bsightline_[a-z_]+\b`).FindAllString(exprs.String(), -1) {
		name := m
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if trimmed, ok := strings.CutSuffix(name, suffix); ok && strings.Contains(defs, `"`+trimmed+`"`) {
				name = trimmed
			}
		}
		if seen[name] {
			continue
		}
		seen[name] = true
		// The aggregate stage builds its names as "sightline_aggregate_" + name.
		short, isAgg := strings.CutPrefix(name, "sightline_aggregate_")
		if !strings.Contains(defs, `"`+name+`"`) && !(isAgg && strings.Contains(defs, `("`+short+`"`)) {
			t.Errorf("the rules use %s, which no Sightline process exports", name)
		}
	}
	if len(seen) < 15 {
		t.Fatalf("found only %d metric names in the rules", len(seen))
	}
}
