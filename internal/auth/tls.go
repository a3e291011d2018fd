package auth

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TLSConfig is the `tls:` section: a certificate and key (PEM files)
// served by the HTTP server and the OTLP receivers of `sightline up`.
type TLSConfig struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ReloadInterval: how often the files are checked for a change
	// (default 10s); SIGHUP reloads them at once.
	ReloadInterval time.Duration `yaml:"reload_interval"`
}

// Enabled reports whether TLS is configured.
func (c TLSConfig) Enabled() bool { return c.CertFile != "" || c.KeyFile != "" }

const defaultTLSReload = 10 * time.Second

// WithDefaults fills zero values.
func (c TLSConfig) WithDefaults() TLSConfig {
	if c.ReloadInterval == 0 {
		c.ReloadInterval = defaultTLSReload
	}
	return c
}

// Validate checks the values, naming the YAML key of anything wrong.
func (c TLSConfig) Validate() error {
	var errs []error
	if c.Enabled() && (c.CertFile == "" || c.KeyFile == "") {
		errs = append(errs, errors.New("tls: cert_file and key_file must be given together"))
	}
	if c.ReloadInterval < 0 || (c.ReloadInterval > 0 && c.ReloadInterval < 100*time.Millisecond) {
		errs = append(errs, fmt.Errorf("tls.reload_interval: must be at least 100ms, got %s", c.ReloadInterval))
	}
	return errors.Join(errs...)
}

// CertReloader serves a certificate from files and reloads it when they
// change (checked every ReloadInterval) or the process gets SIGHUP. A
// reload that fails keeps the certificate in use and is logged and
// counted: a half-copied file never takes the server down.
type CertReloader struct {
	cfg TLSConfig
	log *slog.Logger

	mu      sync.RWMutex
	cert    *tls.Certificate
	modTime [2]time.Time
	size    [2]int64

	stop, done chan struct{}
	hup        chan os.Signal
	reloads    *prometheus.CounterVec
}

// NewCertReloader loads the certificate (an error when it cannot: a
// server does not start without its certificate) and watches the files
// until Close. reg takes sightline_tls_reloads_total (nil: not exported).
func NewCertReloader(cfg TLSConfig, reg prometheus.Registerer, log *slog.Logger) (*CertReloader, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &CertReloader{cfg: cfg, log: log, stop: make(chan struct{}), done: make(chan struct{}), hup: make(chan os.Signal, 1),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sightline_tls_reloads_total",
			Help: "Loads of the TLS certificate after a change or SIGHUP, by result (ok; error: the certificate in use stays)."},
			[]string{"result"})}
	r.reloads.WithLabelValues("ok")
	r.reloads.WithLabelValues("error")
	if reg != nil {
		if err := reg.Register(r.reloads); err != nil {
			return nil, fmt.Errorf("cannot register tls metrics: %w", err)
		}
	}
	if err := r.load(); err != nil {
		return nil, err
	}
	signal.Notify(r.hup, syscall.SIGHUP)
	go r.run()
	return r, nil
}

// TLSConfig is a server configuration that serves the current
// certificate (TLS 1.2 at least).
func (r *CertReloader) TLSConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		r.mu.RLock()
		defer r.mu.RUnlock()
		return r.cert, nil
	}}
}

// Close stops watching.
func (r *CertReloader) Close() {
	select {
	case <-r.stop:
	default:
		signal.Stop(r.hup)
		close(r.stop)
	}
	<-r.done
}

func (r *CertReloader) run() {
	defer close(r.done)
	t := time.NewTicker(r.cfg.ReloadInterval)
	defer t.Stop()
	for {
		force := false
		select {
		case <-r.stop:
			return
		case <-r.hup:
			force = true
		case <-t.C:
		}
		if !force && !r.changed() {
			continue
		}
		if err := r.load(); err != nil {
			r.log.Warn("cannot reload the TLS certificate; the one in use stays", "err", err)
		} else {
			r.log.Info("TLS certificate reloaded", "cert_file", r.cfg.CertFile)
		}
	}
}

func (r *CertReloader) stat() (mod [2]time.Time, size [2]int64, err error) {
	for i, p := range []string{r.cfg.CertFile, r.cfg.KeyFile} {
		fi, err := os.Stat(p)
		if err != nil {
			return mod, size, err
		}
		mod[i], size[i] = fi.ModTime(), fi.Size()
	}
	return mod, size, nil
}

func (r *CertReloader) changed() bool {
	mod, size, err := r.stat()
	if err != nil {
		return true // load reports it
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return mod != r.modTime || size != r.size
}

func (r *CertReloader) load() error {
	mod, size, _ := r.stat()
	c, err := tls.LoadX509KeyPair(r.cfg.CertFile, r.cfg.KeyFile)
	if err != nil {
		r.reloads.WithLabelValues("error").Inc()
		return fmt.Errorf("cannot load the TLS certificate (tls.cert_file, tls.key_file): %w", err)
	}
	r.mu.Lock()
	r.cert, r.modTime, r.size = &c, mod, size
	r.mu.Unlock()
	r.reloads.WithLabelValues("ok").Inc()
	return nil
}
