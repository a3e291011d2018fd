// Package server is the HTTP surface of a Sightline process: /metrics,
// /healthz, /readyz, the JSON ingest endpoint (POST /v1/events) and the
// read API over ClickHouse (GET /v1/signals, /v1/alerts, /v1/summary).
package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
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
	"google.golang.org/protobuf/proto"

	"github.com/sightline-dev/sightline/schemas"
)

// Check is a named readiness condition.
type Check struct {
	Name  string
	Ready func() bool
}

// Config of the server.
type Config struct {
	Addr     string
	Gatherer prometheus.Gatherer
	Checks   []Check
	// Producer, when set, enables POST /v1/events into Topic.
	Producer *kgo.Client
	Topic    string
	// MaxBodyBytes bounds one ingest request (default 32 MiB).
	MaxBodyBytes int64
	// Query, when set, is the ClickHouse the read API answers from.
	Query driver.Conn
}

// Server is a running HTTP server.
type Server struct {
	srv *http.Server
	ln  net.Listener
	cfg Config
}

// Start listens and serves in the background.
func Start(cfg Config) (*Server, error) {
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 32 << 20
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("cannot listen on %s (http_addr): %w", cfg.Addr, err)
	}
	s := &Server{ln: ln, cfg: cfg}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Gatherer, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.HandleFunc("POST /v1/events", s.ingest)
	mux.HandleFunc("GET /v1/signals", s.signals)
	mux.HandleFunc("GET /v1/alerts", s.alerts)
	mux.HandleFunc("GET /v1/summary", s.summary)
	mux.HandleFunc("GET /v1/schema", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/schema+json")
		w.Write(schemas.EventJSONSchema)
	})
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go s.srv.Serve(ln)
	return s, nil
}

// Addr is the listening address.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close shuts the server down.
func (s *Server) Close(ctx context.Context) error { return s.srv.Shutdown(ctx) }

func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	var notReady []string
	for _, c := range s.cfg.Checks {
		if !c.Ready() {
			notReady = append(notReady, c.Name)
		}
	}
	if len(notReady) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "not ready: %s\n", strings.Join(notReady, ", "))
		return
	}
	io.WriteString(w, "ready\n")
}

type ingestResult struct {
	Accepted int           `json:"accepted"`
	Rejected []ingestError `json:"rejected,omitempty"`
}

type ingestError struct {
	Index  int    `json:"index"`
	Reason string `json:"reason"`
	Error  string `json:"error"`
}

// ingest accepts JSON events (one object, an array, or JSON lines),
// validates each and produces the valid ones; invalid ones are reported
// back to the caller by index, since the caller is there to fix them.
func (s *Server) ingest(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Producer == nil {
		http.Error(w, "ingest is not enabled on this process", http.StatusNotFound)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		http.Error(w, "cannot read body: "+err.Error(), http.StatusRequestEntityTooLarge)
		return
	}
	var docs []json.RawMessage
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) > 0 && trimmed[0] == '[' {
		if err := json.Unmarshal(trimmed, &docs); err != nil {
			http.Error(w, "body is not a JSON array of events", http.StatusBadRequest)
			return
		}
	} else {
		sc := bufio.NewScanner(bytes.NewReader(trimmed))
		sc.Buffer(make([]byte, 64<<10), int(s.cfg.MaxBodyBytes))
		for sc.Scan() {
			if l := bytes.TrimSpace(sc.Bytes()); len(l) > 0 {
				docs = append(docs, append([]byte(nil), l...))
			}
		}
	}
	var res ingestResult
	recs := make([]*kgo.Record, 0, len(docs))
	for i, d := range docs {
		ev, err := schemas.DecodeJSON(d)
		if err != nil {
			res.Rejected = append(res.Rejected, ingestError{Index: i, Reason: string(schemas.ReasonOf(err)), Error: err.Error()})
			continue
		}
		b, err := proto.Marshal(ev)
		if err != nil {
			res.Rejected = append(res.Rejected, ingestError{Index: i, Reason: "encode", Error: err.Error()})
			continue
		}
		recs = append(recs, &kgo.Record{Topic: s.cfg.Topic, Value: b})
	}
	if len(recs) > 0 {
		if err := s.cfg.Producer.ProduceSync(r.Context(), recs...).FirstErr(); err != nil {
			status := http.StatusServiceUnavailable
			if errors.Is(err, context.Canceled) {
				status = 499
			}
			http.Error(w, "cannot produce events (retry later): "+err.Error(), status)
			return
		}
	}
	res.Accepted = len(recs)
	w.Header().Set("Content-Type", "application/json")
	if len(res.Rejected) > 0 && res.Accepted == 0 {
		w.WriteHeader(http.StatusBadRequest)
	}
	json.NewEncoder(w).Encode(res)
}
