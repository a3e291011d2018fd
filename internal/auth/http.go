package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Surfaces (label values of sightline_auth_requests_total).
const (
	SurfaceIngest  = "ingest"
	SurfaceRead    = "read"
	SurfaceConsole = "console"
	SurfaceMetrics = "metrics"
	SurfaceAudit   = "audit"
	SurfaceAdmin   = "admin"
	SurfaceOTLP    = "otlp"
)

// Guard lets requests in: it finds the key in the request's headers,
// verifies it against the keyring, checks its role and rate, and puts the
// Principal in the request's context. Without a keyring (authentication
// off) every request is Anonymous.
type Guard struct {
	ring     *Keyring
	cfg      Config
	lim      *limiter
	requests *prometheus.CounterVec
}

// NewGuard checks requests against ring (nil: authentication off). reg
// takes sightline_auth_requests_total (nil: not exported).
func NewGuard(ring *Keyring, cfg Config, reg prometheus.Registerer) (*Guard, error) {
	cfg = cfg.WithDefaults()
	g := &Guard{ring: ring, cfg: cfg, requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sightline_auth_requests_total",
		Help: "Requests checked for an API key, by surface (ingest, read, console, metrics, audit, admin, otlp) and result " +
			"(ok; unauthenticated: 401; forbidden: 403, the key's role or tenant; rate_limited: 429, auth.rate_limit)."},
		[]string{"surface", "result"})}
	if ring != nil {
		g.lim = newLimiter(cfg.RateLimit, time.Now)
	}
	for _, s := range []string{SurfaceIngest, SurfaceRead, SurfaceConsole, SurfaceMetrics, SurfaceAudit, SurfaceAdmin, SurfaceOTLP} {
		for _, r := range []string{"ok", "unauthenticated", "forbidden", "rate_limited"} {
			g.requests.WithLabelValues(s, r)
		}
	}
	if reg != nil {
		if err := reg.Register(g.requests); err != nil {
			return nil, fmt.Errorf("cannot register auth metrics: %w", err)
		}
	}
	return g, nil
}

// Off is a guard that lets every request in as Anonymous.
func Off() *Guard {
	g, _ := NewGuard(nil, Config{}, nil)
	return g
}

// Enabled reports whether requests need a key.
func (g *Guard) Enabled() bool { return g.ring != nil }

// TenantMismatch is the configured handling of events claiming another
// tenant.
func (g *Guard) TenantMismatch() TenantMismatch { return g.cfg.TenantMismatch }

// Denied is why a request is refused, with its HTTP status.
type Denied struct {
	Status     int // 401, 403 or 429
	Err        error
	RetryAfter time.Duration // 429 only
}

func (d *Denied) Error() string { return d.Err.Error() }
func (d *Denied) Unwrap() error { return d.Err }

// Authenticate checks the key in headers for a request of the given
// surface that needs role: the principal, or a *Denied. The rate limit is
// taken here too.
func (g *Guard) Authenticate(ctx context.Context, surface string, role Role, headers map[string][]string) (Principal, error) {
	p, err := g.authenticate(ctx, role, headers)
	result := "ok"
	var d *Denied
	if errors.As(err, &d) {
		result = map[int]string{http.StatusUnauthorized: "unauthenticated", http.StatusForbidden: "forbidden",
			http.StatusTooManyRequests: "rate_limited"}[d.Status]
	}
	g.requests.WithLabelValues(surface, result).Inc()
	return p, err
}

func (g *Guard) authenticate(ctx context.Context, role Role, headers map[string][]string) (Principal, error) {
	if g.ring == nil {
		return Anonymous, nil
	}
	key, err := KeyFromHeaders(headers)
	if err == nil {
		var p Principal
		if p, err = g.ring.Verify(ctx, key); err == nil {
			if !p.Role.Allows(role) {
				return p, &Denied{Status: http.StatusForbidden, Err: fmt.Errorf("%w: it is a %s key, this needs %s", ErrRole, p.Role, needs(role))}
			}
			if ok, wait := g.lim.allow(p.KeyID); !ok {
				return p, &Denied{Status: http.StatusTooManyRequests, RetryAfter: wait, Err: fmt.Errorf(
					"too many requests for this key (auth.rate_limit: %g per second, bursts of %d): retry later",
					g.cfg.RateLimit.RequestsPerSecond, g.cfg.RateLimit.Burst)}
			}
			return p, nil
		}
	}
	return Principal{}, &Denied{Status: http.StatusUnauthorized, Err: err}
}

func needs(role Role) string {
	if role == RoleAdmin {
		return "an admin key"
	}
	return "a " + string(role) + " or admin key"
}

// Require wraps h: only requests with a key of the role pass, with their
// Principal in the context. browser asks a browser to prompt for the key
// (Basic: the password is the key) instead of naming a Bearer token.
func (g *Guard) Require(surface string, role Role, browser bool, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := g.Authenticate(r.Context(), surface, role, r.Header)
		if err != nil {
			WriteDenied(w, err, browser)
			return
		}
		h.ServeHTTP(w, r.WithContext(NewContext(r.Context(), p)))
	})
}

// Metrics wraps the /metrics handler as auth.metrics says.
func (g *Guard) Metrics(h http.Handler) http.Handler {
	switch g.cfg.Metrics {
	case MetricsOpen:
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			g.requests.WithLabelValues(SurfaceMetrics, "ok").Inc()
			h.ServeHTTP(w, r.WithContext(NewContext(r.Context(), Anonymous)))
		})
	case MetricsAdmin:
		return g.Require(SurfaceMetrics, RoleAdmin, false, h)
	}
	return g.Require(SurfaceMetrics, RoleRead, false, h)
}

// WriteDenied answers a refused request: 401, 403 or 429 with a JSON
// {"error": "..."} (any other error is a 403).
func WriteDenied(w http.ResponseWriter, err error, browser bool) {
	d := &Denied{Status: http.StatusForbidden, Err: err}
	errors.As(err, &d)
	switch d.Status {
	case http.StatusUnauthorized:
		if browser {
			w.Header().Set("WWW-Authenticate", `Basic realm="Sightline: user name anything, password your API key", charset="UTF-8"`)
		} else {
			w.Header().Set("WWW-Authenticate", `Bearer realm="sightline"`)
		}
	case http.StatusTooManyRequests:
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(d.RetryAfter.Seconds())))))
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(d.Status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(map[string]string{"error": d.Err.Error()})
}
