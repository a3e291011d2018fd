package reeval

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sightline-dev/sightline/internal/redact"
)

// Scope selects events by their aggregation key; an empty field (or "*")
// matches every value.
type Scope struct {
	Tenant, App, Model, Variant string
}

// Config is one re-evaluation job.
type Config struct {
	// JobID names the job; verdicts are stored under it and a rerun with the
	// same id skips events already judged validly. Default: derived from the
	// alert id or the scope and range, plus the judge model (DefaultJobID).
	JobID string

	// Scope and [From, To) select the events, unless AlertID is set.
	Scope    Scope
	From, To time.Time
	// AlertID reads scope and windows from llm_alerts instead; the alert's
	// key matches exactly (an empty variant means events without one).
	AlertID string

	// JudgeURL is the OpenAI-compatible API base (".../v1"); requests go to
	// JudgeURL + "/chat/completions" unless it already ends so. Required.
	JudgeURL string
	// JudgeModel is the "model" of each request. Required.
	JudgeModel string
	// APIKey is sent as a bearer token when set.
	APIKey string

	// Concurrency bounds requests in flight (default 4).
	Concurrency int
	// Rate bounds requests started per second, retries included (default 0:
	// no limit).
	Rate float64
	// Timeout bounds each request attempt (default 60s).
	Timeout time.Duration
	// Retries is how many times a failed request (network error, timeout,
	// 408, 429, 5xx) is tried again (default 3; -1 for none).
	Retries int
	// Backoff is the first retry's delay, doubled each retry with equal
	// jitter, capped at MaxBackoff (defaults 500ms and 20s). A Retry-After
	// header overrides it, within MaxBackoff.
	Backoff, MaxBackoff time.Duration
	// MaxTokens bounds the judge's answer (default 512).
	MaxTokens int
	// MaxChars cuts each text sent to the judge (default 6000 characters per
	// message, passage or reference).
	MaxChars int
	// MaxEvents stops the job after that many events in scope (default 0: all).
	MaxEvents int
	// PageSize is how many events are read from ClickHouse at a time (default 256).
	PageSize int
	// BatchSize is how many verdicts go into one insert (default 100).
	BatchSize int
	// ToxicityThreshold and HallucinationThreshold turn the online detector
	// scores into decisions for the agreement figures (default 0.5 each).
	ToxicityThreshold, HallucinationThreshold float64

	// HTTPClient sends the judge requests (default: a client without its own
	// timeout; Timeout applies per attempt).
	HTTPClient *http.Client
}

func (c *Config) applyDefaults() {
	if c.Concurrency == 0 {
		c.Concurrency = 4
	}
	if c.Timeout == 0 {
		c.Timeout = 60 * time.Second
	}
	if c.Retries == 0 {
		c.Retries = 3
	} else if c.Retries < 0 {
		c.Retries = 0
	}
	if c.Backoff == 0 {
		c.Backoff = 500 * time.Millisecond
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = 20 * time.Second
	}
	if c.MaxTokens == 0 {
		c.MaxTokens = 512
	}
	if c.MaxChars == 0 {
		c.MaxChars = 6000
	}
	if c.PageSize == 0 {
		c.PageSize = 256
	}
	if c.BatchSize == 0 {
		c.BatchSize = 100
	}
	if c.ToxicityThreshold == 0 {
		c.ToxicityThreshold = 0.5
	}
	if c.HallucinationThreshold == 0 {
		c.HallucinationThreshold = 0.5
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{}
	}
}

// Validate checks the job with its defaults applied; errors name the flag.
func (c Config) Validate() error {
	c.applyDefaults()
	return c.validate()
}

func (c *Config) validate() error {
	checks := []struct {
		bad bool
		msg string
	}{
		{c.JudgeURL == "", "--judge-url is required (an OpenAI-compatible API base such as http://gpu-host:8000/v1)"},
		{c.JudgeModel == "", "--judge-model is required"},
		{c.AlertID == "" && (c.From.IsZero() || c.To.IsZero()), "give --from and --to (RFC 3339), or --alert-id"},
		{c.AlertID != "" && (!c.From.IsZero() || !c.To.IsZero()), "--alert-id reads the range from the alert: do not combine it with --from/--to"},
		{c.AlertID == "" && !c.To.After(c.From), "--to must be after --from"},
		{c.Concurrency < 1 || c.Concurrency > 1024, "--concurrency must be between 1 and 1024"},
		{c.Rate < 0, "--rate must not be negative"},
		{c.Timeout < 0, "--timeout must be positive"},
		{c.Retries > 100, "--retries must be at most 100"},
		{c.MaxEvents < 0, "--max-events must not be negative"},
		{c.PageSize < 1 || c.BatchSize < 1, "page and batch sizes must be positive"},
		{c.ToxicityThreshold < 0 || c.ToxicityThreshold > 1 || c.HallucinationThreshold < 0 || c.HallucinationThreshold > 1, "detector thresholds must be in [0,1]"},
	}
	for _, ch := range checks {
		if ch.bad {
			return fmt.Errorf("invalid reeval job: %s", ch.msg)
		}
	}
	u, err := url.Parse(c.JudgeURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("invalid reeval job: --judge-url %q is not an http(s) URL", redact.URL(c.JudgeURL))
	}
	return nil
}

// endpoint is the chat-completions URL.
func (c *Config) endpoint() string {
	// The path goes before a query (Azure's ?api-version=...&api-key=...).
	u, query, hasQuery := strings.Cut(c.JudgeURL, "?")
	u = strings.TrimRight(u, "/")
	if !strings.HasSuffix(u, "/chat/completions") {
		u += "/chat/completions"
	}
	if hasQuery {
		u += "?" + query
	}
	return u
}

// DefaultJobID derives a job id from what selects the job's work: the alert
// id, or the scope and range; and the judge model, so that another judge's
// run is a separate job instead of skipping what the first judged.
func DefaultJobID(c Config) string {
	h := sha256.New()
	if c.AlertID != "" {
		fmt.Fprintf(h, "alert\x00%s\x00%s", c.AlertID, c.JudgeModel)
		return "alert-" + hex.EncodeToString(h.Sum(nil))[:16]
	}
	s := c.Scope
	fmt.Fprintf(h, "scope\x00%s\x00%s\x00%s\x00%s\x00%d\x00%d\x00%s",
		s.Tenant, s.App, s.Model, s.Variant, c.From.UTC().Unix(), c.To.UTC().Unix(), c.JudgeModel)
	return "reeval-" + hex.EncodeToString(h.Sum(nil))[:16]
}
