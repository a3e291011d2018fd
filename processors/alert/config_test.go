package alert

import (
	"os"
	"strings"
	"testing"
)

func TestInvalidRulesRejected(t *testing.T) {
	b, err := os.ReadFile("testdata/invalid_rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, err = ParseConfig(b)
	if err == nil {
		t.Fatal("invalid rules accepted")
	}
	for _, want := range []string{
		`alerts.actions[1] "pager": type: unknown type "smoke-signal"`,
		`alerts.rules[0] "no-signal-metric": signal: "toxicity" must be name/metric`,
		`alerts.rules[1] "bad-operator": operator: must be one of`,
		`alerts.rules[2] "toxic-support": for: must be >= 1`,
		`alerts.rules[3] "unknown-action": actions[1]: no action named "email"`,
		`alerts.rules[4] "both-forms": condition: set either condition or operator and threshold`,
		`alerts.rules[5] "bad-no-data": no_data: must be keep, ok or alerting`,
		`alerts.rules[6] "no-threshold": threshold: must be set`,
		`alerts.rules[7] "bad-pattern": match.tenant: bad pattern`,
		`alerts.rules[8] "bad-label": labels: "team-name" is not a valid label name`,
		`alerts.rules[9] "bad-condition": condition: must be "drifted" or "significant"`,
		`alerts.rules[10] "bad-window": window: must be a whole number of seconds`,
		`alerts.rules[11] "toxic-support": name: duplicate rule name`,
		`alerts.rules[12] "bad-group-by": group_by[1]: unknown key "region" (want tenant, app, model, variant, group, signal)`,
		`alerts.rules[13] "twice-grouped": group_by[1]: "app" listed twice`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not contain %q", want)
		}
	}
	if t.Failed() {
		t.Logf("errors:\n%v", err)
	}
	// Unknown keys are errors, not silently ignored.
	if _, err := ParseConfig([]byte("rules:\n  - name: x\n    signal: a/b\n    operater: \">\"\n")); err == nil || !strings.Contains(err.Error(), "operater") {
		t.Fatalf("unknown key: %v", err)
	}
	// New refuses to start with invalid rules.
	if _, err := New(Config{Rules: []Rule{{Name: "r", Signal: "a/b", Operator: ">"}}}, nil, nil, nil); err == nil || !strings.Contains(err.Error(), `"r": threshold`) {
		t.Fatalf("New: %v", err)
	}
}

func TestExampleConfigValid(t *testing.T) {
	b, err := os.ReadFile("../../deploy/alerts.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var wrapper struct {
		Alerts Config `yaml:"alerts"`
	}
	if err := decodeStrict(b, &wrapper); err != nil {
		t.Fatal(err)
	}
	if err := wrapper.Alerts.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(wrapper.Alerts.Rules) != 4 || len(wrapper.Alerts.Actions) != 6 {
		t.Fatalf("example: %d rules, %d actions", len(wrapper.Alerts.Rules), len(wrapper.Alerts.Actions))
	}
}
