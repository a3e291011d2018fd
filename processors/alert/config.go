package alert

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/sightline-dev/sightline/sinks/notify"
)

// Config is the `alerts:` section of the configuration file.
type Config struct {
	Rules   []Rule                `yaml:"rules"`
	Actions []notify.ActionConfig `yaml:"actions"`
	// QueueSize bounds the notifications waiting for a worker (default
	// 1000); when full, new ones are dropped and counted.
	QueueSize int `yaml:"queue_size"`
	// Workers deliver notifications concurrently (default 4).
	Workers int `yaml:"workers"`
	// EventsLimit is the LIMIT of the events query in notifications'
	// links (default 1000).
	EventsLimit int `yaml:"events_limit"`
}

// Rule is one alert rule.
type Rule struct {
	Name string `yaml:"name"`
	// Signal is "name/metric" of the signal rows to watch, e.g.
	// "toxicity/rate", "latency_ms/drift", "*/bias"; path.Match patterns.
	Signal string `yaml:"signal"`
	// Match restricts the scope; empty fields match anything.
	Match Match `yaml:"match"`
	// Window, when set, only watches windows of this size (e.g. 1m, not
	// the 1h rollups).
	Window time.Duration `yaml:"window"`
	// Operator (>, >=, <, <=, ==, !=) and Threshold compare the row's
	// value; or Condition "drifted" / "significant" uses the row's own
	// decision. Exactly one of the two forms.
	Operator  string   `yaml:"operator"`
	Threshold *float64 `yaml:"threshold"`
	Condition string   `yaml:"condition"`
	// For is how many consecutive matching windows fire the alert
	// (default 1).
	For *int `yaml:"for"`
	// MinSamples: rows with fewer events (Signal.N) are "no data".
	MinSamples uint64 `yaml:"min_samples"`
	// Severity (default "warning").
	Severity string            `yaml:"severity"`
	Labels   map[string]string `yaml:"labels"`
	// Actions names entries of the actions list.
	Actions []string `yaml:"actions"`
	// NoData is what a window without data does: keep (default: nothing
	// changes), ok (clears/resolves) or alerting (counts as matching).
	NoData string `yaml:"no_data"`
	// Renotify repeats the firing notification this often while the
	// alert fires (default 0: never).
	Renotify time.Duration `yaml:"renotify"`
	// GroupBy makes one incident of the series that share these scope keys
	// (tenant, app, model, variant, group, signal): one notification when
	// the first of them fires, one resolved when the last resolves, one
	// job (default [tenant, app]; [] makes one incident of all the rule's
	// series; listing every key makes one per series, as Alertmanager's
	// actions always get).
	GroupBy []string `yaml:"group_by"`
}

// DefaultGroupBy is a rule's group_by when it sets none: an incident is
// about one application of one tenant, whichever of its models and
// variants it shows in.
var DefaultGroupBy = []string{"tenant", "app"}

// Match is a rule's scope; each field is a path.Match pattern.
type Match struct {
	Tenant  string `yaml:"tenant"`
	App     string `yaml:"app"`
	Model   string `yaml:"model"`
	Variant string `yaml:"variant"`
	Group   string `yaml:"group"`
}

// Conditions and no-data policies.
const (
	CondDrifted     = "drifted"
	CondSignificant = "significant"

	NoDataKeep     = "keep"
	NoDataOK       = "ok"
	NoDataAlerting = "alerting"
)

var operators = map[string]func(v, t float64) bool{
	">":  func(v, t float64) bool { return v > t },
	">=": func(v, t float64) bool { return v >= t },
	"<":  func(v, t float64) bool { return v < t },
	"<=": func(v, t float64) bool { return v <= t },
	"==": func(v, t float64) bool { return v == t },
	"!=": func(v, t float64) bool { return v != t },
}

var labelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// ParseConfig decodes an `alerts:` section (strictly: unknown keys are
// errors) and validates it.
func ParseConfig(b []byte) (Config, error) {
	var c Config
	if err := decodeStrict(b, &c); err != nil {
		return c, err
	}
	// Validate first: it fills defaults into c, and the operands of a
	// return are not ordered against its call.
	err := c.Validate()
	return c, err
}

func decodeStrict(b []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("cannot parse alerts config: %w", err)
	}
	return nil
}

// Validate checks every rule and action, naming the rule (or action) and
// the YAML key of what is wrong, e.g.
// `alerts.rules[2] "toxic-support": for: must be >= 1`.
func (c *Config) Validate() error {
	var errs []error
	actions := map[string]bool{}
	for i, a := range c.Actions {
		prefix := fmt.Sprintf("alerts.actions[%d] %q", i, a.Name)
		if err := a.Validate(prefix); err != nil {
			errs = append(errs, err)
		}
		if actions[a.Name] {
			errs = append(errs, fmt.Errorf("%s: name: duplicate action name", prefix))
		}
		actions[a.Name] = true
	}
	names := map[string]bool{}
	for i, r := range c.Rules {
		prefix := fmt.Sprintf("alerts.rules[%d] %q", i, r.Name)
		if err := r.validate(actions); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", prefix, err))
		}
		if r.Name != "" && names[r.Name] {
			errs = append(errs, fmt.Errorf("%s: name: duplicate rule name", prefix))
		}
		names[r.Name] = true
	}
	switch {
	case c.QueueSize < 0:
		errs = append(errs, errors.New("alerts.queue_size: must not be negative"))
	case c.Workers < 0:
		errs = append(errs, errors.New("alerts.workers: must not be negative"))
	case c.EventsLimit < 0:
		errs = append(errs, errors.New("alerts.events_limit: must not be negative"))
	}
	return errors.Join(errs...)
}

func (r *Rule) validate(actions map[string]bool) error {
	bad := func(key, format string, args ...any) error {
		return fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...))
	}
	if r.Name == "" {
		return bad("name", "must not be empty")
	}
	name, metric, ok := strings.Cut(r.Signal, "/")
	if !ok || name == "" || metric == "" {
		return bad("signal", "%q must be name/metric, e.g. toxicity/rate or latency_ms/drift", r.Signal)
	}
	for _, p := range [][2]string{{"signal", name}, {"signal", metric}, {"match.tenant", r.Match.Tenant},
		{"match.app", r.Match.App}, {"match.model", r.Match.Model}, {"match.variant", r.Match.Variant}, {"match.group", r.Match.Group}} {
		if _, err := path.Match(p[1], ""); err != nil {
			return bad(p[0], "bad pattern %q: %v", p[1], err)
		}
	}
	if r.Window < 0 || r.Window%time.Second != 0 {
		return bad("window", "must be a whole number of seconds")
	}
	switch {
	case r.Condition != "" && (r.Operator != "" || r.Threshold != nil):
		return bad("condition", "set either condition or operator and threshold, not both")
	case r.Condition != "":
		if r.Condition != CondDrifted && r.Condition != CondSignificant {
			return bad("condition", "must be %q or %q, got %q", CondDrifted, CondSignificant, r.Condition)
		}
	case r.Operator == "":
		return bad("operator", "must be set (one of > >= < <= == !=), or use condition: drifted|significant")
	case operators[r.Operator] == nil:
		return bad("operator", "must be one of > >= < <= == !=, got %q", r.Operator)
	case r.Threshold == nil:
		return bad("threshold", "must be set with operator %s", r.Operator)
	case math.IsNaN(*r.Threshold) || math.IsInf(*r.Threshold, 0):
		return bad("threshold", "must be a finite number")
	}
	if r.For != nil && *r.For < 1 {
		return bad("for", "must be >= 1")
	}
	switch r.NoData {
	case "", NoDataKeep, NoDataOK, NoDataAlerting:
	default:
		return bad("no_data", "must be keep, ok or alerting, got %q", r.NoData)
	}
	if r.Renotify < 0 {
		return bad("renotify", "must not be negative")
	}
	grouped := map[string]bool{}
	for i, k := range r.GroupBy {
		if !slices.Contains(notify.GroupKeys, k) {
			return bad(fmt.Sprintf("group_by[%d]", i), "unknown key %q (want %s)", k, strings.Join(notify.GroupKeys, ", "))
		}
		if grouped[k] {
			return bad(fmt.Sprintf("group_by[%d]", i), "%q listed twice", k)
		}
		grouped[k] = true
	}
	for k := range r.Labels {
		if !labelName.MatchString(k) {
			return bad("labels", "%q is not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*)", k)
		}
	}
	seen := map[string]bool{}
	for i, a := range r.Actions {
		if !actions[a] {
			return bad(fmt.Sprintf("actions[%d]", i), "no action named %q in alerts.actions", a)
		}
		if seen[a] {
			return bad(fmt.Sprintf("actions[%d]", i), "action %q listed twice", a)
		}
		seen[a] = true
	}
	return nil
}

// matcher is a compiled pattern: literal comparison unless it has
// wildcards.
type matcher func(string) bool

func compile(p string) matcher {
	switch {
	case p == "" || p == "*":
		return func(string) bool { return true }
	case !strings.ContainsAny(p, `*?[\`):
		return func(s string) bool { return s == p }
	}
	return func(s string) bool { ok, _ := path.Match(p, s); return ok }
}

// rule is a validated rule ready to evaluate.
type rule struct {
	Rule
	name, metric, tenant, app, model, variant, group matcher
	forN                                             int
	windowSec                                        uint32
	noData, severity, condition                      string
	op                                               func(v, t float64) bool
	// groupBy is GroupBy (or the default) in notify.GroupKeys order, so
	// [app, tenant] and [tenant, app] are the same groups.
	groupBy []string
	// perSeries: one of the rule's actions is an Alertmanager, which gets
	// every series' notifications (it groups alerts itself).
	perSeries bool
	// labelsJSON is Labels as stored in llm_alerts.labels.
	labelsJSON string
}

func compileRule(r Rule) *rule {
	name, metric, _ := strings.Cut(r.Signal, "/")
	c := &rule{Rule: r, name: compile(name), metric: compile(metric), tenant: compile(r.Match.Tenant), app: compile(r.Match.App),
		model: compile(r.Match.Model), variant: compile(r.Match.Variant), group: compile(r.Match.Group),
		forN: 1, windowSec: uint32(r.Window / time.Second), noData: r.NoData, severity: r.Severity}
	if r.For != nil {
		c.forN = *r.For
	}
	if c.noData == "" {
		c.noData = NoDataKeep
	}
	if c.severity == "" {
		c.severity = "warning"
	}
	c.labelsJSON = "{}"
	if len(r.Labels) > 0 {
		if j, err := json.Marshal(r.Labels); err == nil {
			c.labelsJSON = string(j)
		}
	}
	want := r.GroupBy
	if want == nil {
		want = DefaultGroupBy
	}
	c.groupBy = []string{}
	for _, k := range notify.GroupKeys {
		if slices.Contains(want, k) {
			c.groupBy = append(c.groupBy, k)
		}
	}
	if r.Condition != "" {
		c.condition = r.Condition
	} else {
		c.op = operators[r.Operator]
		c.condition = r.Operator + " " + notify.FormatValue(*r.Threshold)
	}
	return c
}
