package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"text/template"
	"time"

	"github.com/sightline-dev/sightline/internal/redact"
)

// JobConfig configures a Job action.
type JobConfig struct {
	Name        string
	Method      string // default POST
	URL         string
	Headers     map[string]string
	Body        string // text/template over Notification
	ContentType string // default application/json
	Secret      []byte // signs the request when set
}

// Job sends a templated HTTP request to a job API (a Kubernetes Job
// manifest to the API server, an Argo workflow submission, an Airflow DAG
// run, a CI dispatch). The body template sees the Notification's fields
// ({{.AlertID}}, {{.Rule}}, {{.Scope.Tenant}}, {{.Span.Start}},
// {{.IdempotencyKey}}, {{range .Members}}, ...) and the functions json (a JSON literal of any
// value), k8sname (a DNS-1123 name of at most 63 characters), short (the
// first 8 characters), unix and rfc3339 (times). Every attempt carries the
// incident's Idempotency-Key header, so a receiver that deduplicates on it
// (or a template that puts it in the job's name) starts one job however
// often the request is retried.
type Job struct {
	cfg  JobConfig
	body *template.Template
}

// NewJob parses the body template.
func NewJob(cfg JobConfig) (*Job, error) {
	if cfg.Method == "" {
		cfg.Method = http.MethodPost
	}
	t, err := parseBody(cfg.Name, cfg.Body)
	if err != nil {
		return nil, fmt.Errorf("body: %w", err)
	}
	return &Job{cfg: cfg, body: t}, nil
}

// TemplateFuncs are the functions job body templates may use.
var TemplateFuncs = template.FuncMap{
	"json": func(v any) (string, error) {
		if f, ok := v.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
			return "null", nil // no data: JSON has no NaN
		}
		b, err := json.Marshal(v)
		return string(b), err
	},
	"k8sname": k8sName,
	"short": func(s string) string {
		if len(s) > 8 {
			return s[:8]
		}
		return s
	},
	"unix":    func(t time.Time) int64 { return t.Unix() },
	"rfc3339": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
}

func parseBody(name, body string) (*template.Template, error) {
	t, err := template.New(name).Funcs(TemplateFuncs).Option("missingkey=error").Parse(body)
	if err != nil {
		return nil, fmt.Errorf("cannot parse template: %w", err)
	}
	return t, nil
}

// k8sName lowercases s and keeps [a-z0-9-], at most 63 characters, not
// starting or ending with "-".
func k8sName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0:
			b.WriteByte('-')
		}
	}
	out := b.String()
	if len(out) > 63 {
		out = out[:63]
	}
	return strings.Trim(out, "-")
}

// Render executes the body template for n.
func (j *Job) Render(n Notification) ([]byte, error) {
	var buf bytes.Buffer
	if err := j.body.Execute(&buf, n); err != nil {
		return nil, fmt.Errorf("cannot render job body: %w", err)
	}
	return buf.Bytes(), nil
}

// Notify sends one attempt with n's idempotency key.
func (j *Job) Notify(ctx context.Context, n Notification) (Outcome, error) {
	body, err := j.Render(n)
	if err != nil {
		return Outcome{}, Permanent(err)
	}
	extra := http.Header{}
	if n.IdempotencyKey != "" {
		extra.Set(HeaderIdempotencyKey, n.IdempotencyKey)
	}
	return request{method: j.cfg.Method, url: j.cfg.URL, contentType: j.cfg.ContentType, body: body,
		headers: j.cfg.Headers, secret: j.cfg.Secret, extra: extra}.do(ctx)
}

// Method and URL are the request line (for records).
func (j *Job) Method() string { return j.cfg.Method }

// URL is the request URL with its secrets masked (for records; see
// redact.URL).
func (j *Job) URL() string { return redact.URL(j.cfg.URL) }
