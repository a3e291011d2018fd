package app

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sightline-dev/sightline/internal/auth"
	"github.com/sightline-dev/sightline/internal/config"
	"github.com/sightline-dev/sightline/internal/server"
)

// Security is what a process's HTTP server (and the Console, and the OTLP
// receivers of `up --otlp`) needs to let callers in: the guard with its
// keyring, the bound on concurrent reads and the TLS configuration.
type Security struct {
	Guard *auth.Guard
	// Ring is the keyring the guard checks (nil: authentication off).
	Ring  *auth.Keyring
	Reads *server.ReadLimiter
	// TLS is nil without tls.cert_file; it serves the reloaded
	// certificate.
	TLS     *tls.Config
	closers []func()
}

// Close stops the keyring's reloads and the certificate's watch.
func (s *Security) Close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
	s.closers = nil
}

// Listeners are the addresses a process listens on that take or give
// data: http_addr, and with OTLP its receivers and metrics.
func Listeners(cfg config.Config, otlp bool) []auth.Listener {
	ls := []auth.Listener{{Setting: "http_addr", Addr: cfg.HTTPAddr}}
	if otlp {
		ls = append(ls, auth.Listener{Setting: "otlp.grpc_addr", Addr: cfg.OTLP.GRPCAddr},
			auth.Listener{Setting: "otlp.http_addr", Addr: cfg.OTLP.HTTPAddr})
	}
	return ls
}

// checkEmbeddedBroker refuses an embedded broker reachable beyond
// loopback, with or without keys (they do not cover Kafka), unless
// insecure.
func checkEmbeddedBroker(cfg config.Config) error {
	if len(cfg.Kafka.Brokers) > 0 || cfg.Auth.Insecure || auth.IsLoopback(cfg.Kafka.EmbeddedAddr) {
		return nil
	}
	return fmt.Errorf("cannot start: kafka.embedded_addr %s is reachable beyond this machine and the embedded broker has no "+
		"authentication (API keys do not cover Kafka), so anyone who can reach it could read every prompt and completion and "+
		"write events under any tenant. Listen on 127.0.0.1, point kafka.brokers at a Kafka with TLS and SASL, or pass "+
		"--insecure (auth.insecure: true) if the network in front of it is trusted", cfg.Kafka.EmbeddedAddr)
}

// NewSecurity builds the guard, read limiter and TLS of a process from
// cfg's auth:, reads: and tls: sections, refusing first to listen beyond
// loopback without authentication (auth.CheckExposure). The keys come
// from auth.keys_file, or from conn's llm_api_keys; a process that cannot
// load them does not start.
func NewSecurity(ctx context.Context, cfg config.Config, conn driver.Conn, reg prometheus.Registerer, log *slog.Logger,
	listeners ...auth.Listener) (_ *Security, err error) {
	if err := auth.CheckExposure(cfg.Auth, listeners...); err != nil {
		return nil, err
	}
	s := &Security{}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if cfg.Auth.Enabled {
		var store auth.Store = auth.ClickHouseStore{Conn: conn}
		if cfg.Auth.KeysFile != "" {
			store = &auth.FileStore{Path: cfg.Auth.KeysFile}
		}
		if s.Ring, err = auth.NewKeyring(ctx, store, cfg.Auth, reg, log); err != nil {
			return nil, err
		}
		s.closers = append(s.closers, s.Ring.Close)
		if s.Ring.Len() == 0 {
			log.Warn("authentication is on and no API key exists yet: every request is refused until one is created with `sightline keys create`")
		}
	} else if cfg.Auth.Insecure {
		for _, l := range listeners {
			if !auth.IsLoopback(l.Addr) {
				log.Warn("listening beyond loopback without authentication (--insecure): whatever is in front of Sightline must authenticate every request",
					"setting", l.Setting, "addr", l.Addr)
			}
		}
	}
	if s.Guard, err = auth.NewGuard(s.Ring, cfg.Auth, reg); err != nil {
		return nil, err
	}
	if s.Reads, err = server.NewReadLimiter(cfg.Reads, reg); err != nil {
		return nil, err
	}
	if cfg.TLS.Enabled() {
		r, err := auth.NewCertReloader(cfg.TLS, reg, log)
		if err != nil {
			return nil, err
		}
		s.closers = append(s.closers, r.Close)
		s.TLS = r.TLSConfig()
	}
	return s, nil
}
