// Package server is the HTTP surface of a Sightline process: /metrics,
// /healthz, /readyz, the JSON ingest endpoint (POST /v1/events) and the
// read API over ClickHouse (GET /v1/signals, /v1/alerts, /v1/summary,
// /v1/audit), each behind the API-key guard of internal/auth.
package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sightline-dev/sightline/internal/auth"
	"github.com/sightline-dev/sightline/schemas"
)

// Check is a named readiness condition.
type Check struct {
	Name  string
	Ready func() bool
	// Status, when set, replaces Ready and says why when not ready
	// (e.g. a stage that owns no partition after a rebalance).
	Status func() (bool, string)
}

func (c Check) status() (bool, string) {
	if c.Status != nil {
		return c.Status()
	}
	return c.Ready(), ""
}

// Config of the server.
type Config struct {
	Addr     string
	Gatherer prometheus.Gatherer
	// Registerer takes the server's own metrics; nil means Gatherer when
	// it is also a Registerer (a *prometheus.Registry), else none are
	// exported.
	Registerer prometheus.Registerer
	Checks     []Check
	// Producer, when set, enables POST /v1/events into Topic.
	Producer *kgo.Client
	Topic    string
	// Ingest bounds POST /v1/events (the zero value is
	// DefaultIngestConfig).
	Ingest IngestConfig
	// Query, when set, is the ClickHouse the read API answers from.
	Query driver.Conn
	// Console, when set, serves the web UI at / (internal/console). It
	// checks keys itself (console.Options.Guard).
	Console http.Handler
	// Guard checks the API key of every request to /metrics and /v1/
	// (nil: auth.Off(), every request anonymous). /healthz, /readyz and
	// /v1/schema are open.
	Guard *auth.Guard
	// Reads, when set, bounds the concurrent reads of the read API (and
	// of the Console, which wraps its pages with the same limiter).
	Reads *ReadLimiter
	// TLS, when set, serves HTTPS (auth.CertReloader's config reloads
	// the certificate).
	TLS *tls.Config
}

// Server is a running HTTP server.
type Server struct {
	srv *http.Server
	ln  net.Listener
	cfg Config
	in  *ingester // nil without a Producer
}

// Start listens and serves in the background.
func Start(cfg Config) (*Server, error) {
	if err := cfg.Ingest.Validate(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	cfg.Ingest = cfg.Ingest.withDefaults()
	s := &Server{cfg: cfg}
	if cfg.Producer != nil {
		reg := cfg.Registerer
		if reg == nil {
			reg, _ = cfg.Gatherer.(prometheus.Registerer)
		}
		if reg == nil {
			reg = prometheus.NewRegistry() // nowhere to export: counted, never served
		}
		var err error
		if s.in, err = newIngester(cfg.Ingest, cfg.Producer, cfg.Topic, reg); err != nil {
			return nil, err
		}
	}
	if s.cfg.Guard == nil {
		s.cfg.Guard = auth.Off()
	}
	if s.in != nil {
		s.in.mismatch = s.cfg.Guard.TenantMismatch()
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("cannot listen on %s (http_addr): %w", cfg.Addr, err)
	}
	if cfg.TLS != nil {
		ln = tls.NewListener(ln, cfg.TLS)
	}
	s.ln = ln
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Gatherer, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.HandleFunc("POST /v1/events", s.ingest)
	mux.HandleFunc("GET /v1/signals", s.signals)
	mux.HandleFunc("GET /v1/alerts", s.alerts)
	mux.HandleFunc("GET /v1/summary", s.summary)
	mux.HandleFunc("GET /v1/audit", s.audit)
	mux.Handle(LifecyclePath, LifecycleHandler(cfg.Query)) // forget and export (lifecycle_api.go)
	mux.HandleFunc("GET /v1/schema", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/schema+json")
		w.Write(schemas.EventJSONSchema)
	})
	if cfg.Console != nil {
		mux.Handle("/", cfg.Console)
	}
	s.srv = &http.Server{Handler: s.guarded(mux), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		MaxHeaderBytes: 64 << 10}
	go s.srv.Serve(ln)
	return s, nil
}

// guarded puts every request to /metrics and /v1/ behind the guard: the
// ingest endpoint needs an ingest key, the reads a read key, anything else
// under /v1/ (the audit trail, the admin API) an admin key, so an
// endpoint added later is closed until it says otherwise. The reads then
// wait for a slot of the read limiter. The Console guards its own pages.
func (s *Server) guarded(mux http.Handler) http.Handler {
	g := s.cfg.Guard
	metrics := g.Metrics(mux)
	ingest := g.Require(auth.SurfaceIngest, auth.RoleIngest, false, mux)
	readMux, auditMux := mux, mux
	if s.cfg.Reads != nil {
		readMux, auditMux = s.cfg.Reads.Wrap(auth.SurfaceRead, mux), s.cfg.Reads.Wrap(auth.SurfaceAudit, mux)
	}
	read := g.Require(auth.SurfaceRead, auth.RoleRead, false, readMux)
	audit := g.Require(auth.SurfaceAudit, auth.RoleAdmin, false, auditMux)
	admin := g.Require(auth.SurfaceAdmin, auth.RoleAdmin, false, mux)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch p := r.URL.Path; {
		case p == "/healthz" || p == "/readyz" || p == "/v1/schema":
			mux.ServeHTTP(w, r.WithContext(auth.NewContext(r.Context(), auth.Anonymous)))
		case p == "/metrics":
			metrics.ServeHTTP(w, r)
		case p == "/v1/events":
			ingest.ServeHTTP(w, r)
		case p == "/v1/signals" || p == "/v1/alerts" || p == "/v1/summary":
			read.ServeHTTP(w, r)
		case p == "/v1/audit":
			audit.ServeHTTP(w, r)
		case strings.HasPrefix(p, "/v1/") || p == "/v1":
			admin.ServeHTTP(w, r)
		default:
			mux.ServeHTTP(w, r) // the Console, which checks keys itself
		}
	})
}

// Addr is the listening address.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close shuts the server down.
func (s *Server) Close(ctx context.Context) error { return s.srv.Shutdown(ctx) }

func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	var notReady []string
	for _, c := range s.cfg.Checks {
		if ok, why := c.status(); !ok {
			if why != "" {
				notReady = append(notReady, c.Name+" ("+why+")")
			} else {
				notReady = append(notReady, c.Name)
			}
		}
	}
	if len(notReady) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "not ready: %s\n", strings.Join(notReady, ", "))
		return
	}
	io.WriteString(w, "ready\n")
}

func (s *Server) ingest(w http.ResponseWriter, r *http.Request) {
	if s.in == nil {
		writeJSON(w, http.StatusNotFound, apiError{"ingest is not enabled on this process"})
		return
	}
	s.in.ServeHTTP(w, r)
}
