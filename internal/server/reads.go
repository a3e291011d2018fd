package server

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ReadConfig bounds the expensive reads: the read API's and the Console's
// pages, each a ClickHouse query over possibly millions of rows. The
// `reads:` section of the config file; a zero field takes its default.
type ReadConfig struct {
	// MaxConcurrent reads run at once (default 8); more wait.
	MaxConcurrent int `yaml:"max_concurrent"`
	// QueueTimeout: how long a read waits for its turn before it is
	// refused with 429 and Retry-After (default 2s).
	QueueTimeout time.Duration `yaml:"queue_timeout"`
}

// DefaultReadConfig is the configuration the zero ReadConfig stands for.
func DefaultReadConfig() ReadConfig {
	return ReadConfig{MaxConcurrent: 8, QueueTimeout: 2 * time.Second}
}

func (c ReadConfig) withDefaults() ReadConfig {
	d := DefaultReadConfig()
	if c.MaxConcurrent == 0 {
		c.MaxConcurrent = d.MaxConcurrent
	}
	if c.QueueTimeout == 0 {
		c.QueueTimeout = d.QueueTimeout
	}
	return c
}

// Validate checks the values, naming the YAML key of anything wrong.
func (c ReadConfig) Validate() error {
	c = c.withDefaults()
	switch {
	case c.MaxConcurrent < 1 || c.MaxConcurrent > 1024:
		return fmt.Errorf("reads.max_concurrent must be between 1 and 1024, got %d", c.MaxConcurrent)
	case c.QueueTimeout < 0:
		return fmt.Errorf("reads.queue_timeout must not be negative, got %s", c.QueueTimeout)
	}
	return nil
}

// ReadLimiter lets MaxConcurrent reads run at once; the others wait up to
// QueueTimeout, then get 429 with Retry-After. It protects ClickHouse
// (and this process's memory) from a burst of heavy reads, whoever sends
// them; the per-key rate limit (auth.rate_limit) keeps one key from
// taking every turn.
type ReadLimiter struct {
	cfg      ReadConfig
	slots    chan struct{}
	rejected *prometheus.CounterVec
	waited   prometheus.Histogram
}

// NewReadLimiter builds the limiter; reg takes sightline_http_reads_*
// (nil: not exported).
func NewReadLimiter(cfg ReadConfig, reg prometheus.Registerer) (*ReadLimiter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	cfg = cfg.withDefaults()
	l := &ReadLimiter{cfg: cfg, slots: make(chan struct{}, cfg.MaxConcurrent),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sightline_http_reads_rejected_total",
			Help: "Reads refused with 429 after waiting reads.queue_timeout for one of reads.max_concurrent slots, by surface (read, audit, console)."},
			[]string{"surface"}),
		waited: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "sightline_http_reads_wait_seconds",
			Help: "Time reads waited for a slot (reads.max_concurrent).", Buckets: []float64{0.001, 0.01, 0.1, 0.5, 1, 2, 5}}),
	}
	for _, s := range []string{"read", "audit", "console"} {
		l.rejected.WithLabelValues(s)
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{l.rejected, l.waited,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sightline_http_reads_inflight",
				Help: "Reads running (at most reads.max_concurrent)."}, func() float64 { return float64(len(l.slots)) })} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("cannot register read metrics: %w", err)
			}
		}
	}
	return l, nil
}

// Wrap runs h within the limit; surface labels its refusals.
func (l *ReadLimiter) Wrap(surface string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ctx, cancel := context.WithTimeout(r.Context(), l.cfg.QueueTimeout)
		select {
		case l.slots <- struct{}{}:
			cancel()
		case <-ctx.Done():
			cancel()
			l.rejected.WithLabelValues(surface).Inc()
			w.Header().Set("Retry-After", "1")
			writeJSON(w, http.StatusTooManyRequests, apiError{fmt.Sprintf(
				"too many reads at once (reads.max_concurrent is %d; waited reads.queue_timeout, %s): retry later", l.cfg.MaxConcurrent, l.cfg.QueueTimeout)})
			return
		}
		l.waited.Observe(time.Since(start).Seconds())
		defer func() { <-l.slots }()
		h.ServeHTTP(w, r)
	})
}

// Console wraps the Console's pages (console.Options.Limit).
func (l *ReadLimiter) Console(h http.Handler) http.Handler { return l.Wrap("console", h) }
