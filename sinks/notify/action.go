package notify

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/sightline-dev/sightline/internal/redact"
)

// Action delivers notifications to one receiver.
//
// Notify makes one attempt, bounded by ctx (the dispatcher sets the
// action's timeout). It returns what the receiver answered, when it
// answered, and an error when the attempt failed. Errors are retried with
// backoff unless wrapped with Permanent (a receiver that rejected the
// request as invalid will reject it again). Notify must be safe for
// concurrent use.
type Action interface {
	Notify(ctx context.Context, n Notification) (Outcome, error)
}

// Outcome is what a receiver answered to one attempt.
type Outcome struct {
	// StatusCode is the HTTP status (0 when there was no response or the
	// action is not HTTP).
	StatusCode int
	// Body is the start of the response body (at most MaxBody bytes).
	Body string
}

// MaxBody bounds the response body kept in an Outcome.
const MaxBody = 4096

type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// Permanent marks an error that retrying cannot fix.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanent{err}
}

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p permanent
	return errors.As(err, &p)
}

// Action types.
const (
	TypeWebhook      = "webhook"
	TypeSlack        = "slack"
	TypeAlertmanager = "alertmanager"
	TypeJob          = "job"
	TypeKafka        = "kafka"
)

// ActionConfig is one entry of the `actions:` list. Which keys apply
// depends on Type; string values may reference environment variables as
// ${NAME} (secrets stay out of the file), resolved when the action is built.
type ActionConfig struct {
	Name string `yaml:"name"`
	// Type is webhook, slack, alertmanager, job or kafka.
	Type string `yaml:"type"`
	// URL of the receiver (webhook, slack, job), or the Alertmanager base
	// URL (e.g. http://alertmanager:9093).
	URL string `yaml:"url"`
	// Secret signs webhook and job requests (HMAC-SHA256, see the package
	// doc); empty sends them unsigned.
	Secret string `yaml:"secret"`
	// Headers are added to every request (values may use ${ENV}).
	Headers map[string]string `yaml:"headers"`
	// Method of job requests (default POST).
	Method string `yaml:"method"`
	// Body is the job request body, a Go text/template over the
	// Notification (see JobData); BodyFile reads it from a file instead.
	Body     string `yaml:"body"`
	BodyFile string `yaml:"body_file"`
	// ContentType of job requests (default application/json).
	ContentType string `yaml:"content_type"`
	// Brokers and Topic of the kafka action (topic default
	// sightline.alerts).
	Brokers []string `yaml:"brokers"`
	Topic   string   `yaml:"topic"`
	// GeneratorURL is sent to Alertmanager as the alert's source link.
	GeneratorURL string `yaml:"generator_url"`
	// SendResolved sends resolved notifications (default true, except for
	// job actions, which act on firing only).
	SendResolved *bool `yaml:"send_resolved"`
	// Repeat sends re-notifications of a firing alert (default true,
	// except for job actions: one job per incident).
	Repeat *bool `yaml:"repeat"`
	// Timeout of one attempt (default 10s).
	Timeout time.Duration `yaml:"timeout"`
	// MaxAttempts including the first (default 5).
	MaxAttempts int `yaml:"max_attempts"`
	// Backoff is the first retry delay, doubled each retry up to
	// MaxBackoff (defaults 500ms and 30s); each delay is jittered to
	// between half and all of it.
	Backoff    time.Duration `yaml:"backoff"`
	MaxBackoff time.Duration `yaml:"max_backoff"`
}

// Policy is how the dispatcher runs one action.
type Policy struct {
	Timeout             time.Duration
	MaxAttempts         int
	Backoff, MaxBackoff time.Duration
	SendResolved        bool
	Repeat              bool
}

// Policy returns the delivery policy with defaults filled in.
func (c ActionConfig) Policy() Policy {
	p := Policy{Timeout: c.Timeout, MaxAttempts: c.MaxAttempts, Backoff: c.Backoff, MaxBackoff: c.MaxBackoff,
		SendResolved: c.Type != TypeJob, Repeat: c.Type != TypeJob}
	if p.Timeout == 0 {
		p.Timeout = 10 * time.Second
	}
	if p.MaxAttempts == 0 {
		p.MaxAttempts = 5
	}
	if p.Backoff == 0 {
		p.Backoff = 500 * time.Millisecond
	}
	if p.MaxBackoff == 0 {
		p.MaxBackoff = 30 * time.Second
	}
	if p.MaxBackoff < p.Backoff {
		p.MaxBackoff = p.Backoff
	}
	if c.SendResolved != nil {
		p.SendResolved = *c.SendResolved
	}
	if c.Repeat != nil {
		p.Repeat = *c.Repeat
	}
	return p
}

// Validate checks one action's keys statically (environment variables are
// resolved by Build). prefix names it in errors, e.g. `alerts.actions[0] "pager"`.
func (c ActionConfig) Validate(prefix string) error {
	bad := func(key, msg string) error { return fmt.Errorf("%s: %s: %s", prefix, key, msg) }
	if c.Name == "" {
		return bad("name", "must not be empty")
	}
	switch c.Type {
	case TypeWebhook, TypeSlack, TypeAlertmanager, TypeJob:
		if c.URL == "" {
			return bad("url", "must not be empty for a "+c.Type+" action")
		}
		if !strings.HasPrefix(c.URL, "http://") && !strings.HasPrefix(c.URL, "https://") && !strings.HasPrefix(c.URL, "${") {
			return bad("url", fmt.Sprintf("%q must be an http:// or https:// URL", redact.URL(c.URL)))
		}
	case TypeKafka:
		if len(c.Brokers) == 0 {
			return bad("brokers", "must list at least one broker for a kafka action")
		}
	case "":
		return bad("type", "must be one of webhook, slack, alertmanager, job, kafka")
	default:
		return bad("type", fmt.Sprintf("unknown type %q (want webhook, slack, alertmanager, job or kafka)", c.Type))
	}
	if c.Type == TypeJob {
		if c.Body != "" && c.BodyFile != "" {
			return bad("body", "set body or body_file, not both")
		}
		if c.Body != "" {
			if _, err := parseBody(c.Name, c.Body); err != nil {
				return bad("body", err.Error())
			}
		}
	} else if c.Body != "" || c.BodyFile != "" || c.Method != "" {
		return bad("body", "only job actions take method, body or body_file")
	}
	switch {
	case c.Timeout < 0:
		return bad("timeout", "must not be negative")
	case c.MaxAttempts < 0:
		return bad("max_attempts", "must not be negative (0 means the default, 5)")
	case c.Backoff < 0:
		return bad("backoff", "must not be negative")
	case c.MaxBackoff < 0:
		return bad("max_backoff", "must not be negative")
	}
	return nil
}

// Build makes the action, resolving ${ENV} references and reading
// body_file. Only Kafka actions hold resources (close them with Close).
func Build(c ActionConfig) (Action, error) {
	env := func(key, v string) (string, error) {
		out, err := ExpandEnv(v)
		if err != nil {
			return "", fmt.Errorf("%s: %w", key, err)
		}
		return out, nil
	}
	url, err := env("url", c.URL)
	if err != nil {
		return nil, err
	}
	secret, err := env("secret", c.Secret)
	if err != nil {
		return nil, err
	}
	headers := map[string]string{}
	for k, v := range c.Headers {
		if headers[k], err = env("headers."+k, v); err != nil {
			return nil, err
		}
	}
	switch c.Type {
	case TypeWebhook:
		return &Webhook{URL: url, Secret: []byte(secret), Headers: headers}, nil
	case TypeSlack:
		return &Slack{URL: url, Headers: headers}, nil
	case TypeAlertmanager:
		return &Alertmanager{URL: url, GeneratorURL: c.GeneratorURL, Headers: headers}, nil
	case TypeJob:
		body := c.Body
		if c.BodyFile != "" {
			b, err := os.ReadFile(c.BodyFile)
			if err != nil {
				return nil, fmt.Errorf("body_file: cannot read job template: %w", err)
			}
			body = string(b)
		}
		return NewJob(JobConfig{Name: c.Name, Method: c.Method, URL: url, Headers: headers, Body: body,
			ContentType: c.ContentType, Secret: []byte(secret)})
	case TypeKafka:
		return NewKafka(c.Brokers, c.Topic)
	}
	return nil, fmt.Errorf("type: unknown action type %q", c.Type)
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// ExpandEnv replaces ${NAME} with the environment variable NAME; an unset
// variable is an error (a missing secret must not become an empty one).
// Other "$" characters are left alone.
func ExpandEnv(s string) (string, error) {
	var missing []string
	out := envRef.ReplaceAllStringFunc(s, func(m string) string {
		name := m[2 : len(m)-1]
		v, ok := os.LookupEnv(name)
		if !ok {
			missing = append(missing, name)
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("environment variable %s is not set", strings.Join(missing, ", "))
	}
	return out, nil
}
