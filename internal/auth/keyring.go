package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Keyring is the keys a process accepts, held in memory by hash and
// reloaded from its Store every refresh interval (the bound on how long a
// revoked key keeps working), and at once (at most once a second) when an
// unknown key is presented, so a new key works immediately. When a reload
// fails the keys loaded last stay in force and the failure is counted.
type Keyring struct {
	store   Store
	refresh time.Duration
	maxKeys int
	log     *slog.Logger
	now     func() time.Time

	keys     atomic.Pointer[map[string]Record] // by hash
	loadedAt atomic.Int64                      // unix nanoseconds of the last successful load

	loadMu   sync.Mutex // one load at a time
	lastMiss time.Time  // under loadMu: when an unknown key last caused a load

	stop chan struct{}
	done chan struct{}

	loaded   prometheus.Gauge
	reloads  *prometheus.CounterVec
	verified *prometheus.CounterVec
}

// minMissReload is how often unknown keys may reload the keys.
const minMissReload = time.Second

// NewKeyring loads the keys (an error when they cannot be read: a process
// that cannot check keys does not start) and reloads them in the
// background until Close. reg takes sightline_auth_keys* metrics (nil: not
// exported).
func NewKeyring(ctx context.Context, store Store, cfg Config, reg prometheus.Registerer, log *slog.Logger) (*Keyring, error) {
	cfg = cfg.WithDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	k := &Keyring{store: store, refresh: cfg.RefreshInterval, maxKeys: cfg.MaxKeys, log: log, now: time.Now,
		stop: make(chan struct{}), done: make(chan struct{}),
		loaded: prometheus.NewGauge(prometheus.GaugeOpts{Name: "sightline_auth_keys",
			Help: "API keys loaded (revoked and expired ones included)."}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sightline_auth_key_reloads_total",
			Help: "Reloads of the API keys, by result (ok, error: the keys loaded last stay in force)."}, []string{"result"}),
		verified: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sightline_auth_keys_checked_total",
			Help: "API keys presented, by result (ok, missing, malformed, unknown, revoked, expired)."}, []string{"result"}),
	}
	for _, r := range []string{"ok", "error"} {
		k.reloads.WithLabelValues(r)
	}
	for _, r := range []string{"ok", "missing", "malformed", "unknown", "revoked", "expired"} {
		k.verified.WithLabelValues(r)
	}
	if reg != nil {
		age := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sightline_auth_keys_age_seconds",
			Help: "Seconds since the API keys were last loaded (above auth.refresh_interval: reloads are failing)."},
			func() float64 { return k.now().Sub(time.Unix(0, k.loadedAt.Load())).Seconds() })
		for _, c := range []prometheus.Collector{k.loaded, k.reloads, k.verified, age} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("cannot register auth metrics: %w", err)
			}
		}
	}
	if err := k.load(ctx); err != nil {
		return nil, err
	}
	go k.run()
	return k, nil
}

// Close stops the background reloads and waits for them.
func (k *Keyring) Close() {
	select {
	case <-k.stop:
	default:
		close(k.stop)
	}
	<-k.done
}

func (k *Keyring) run() {
	defer close(k.done)
	t := time.NewTicker(k.refresh)
	defer t.Stop()
	for {
		select {
		case <-k.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), k.refresh)
		if err := k.load(ctx); err != nil {
			k.log.Warn("cannot reload API keys; the keys loaded last stay in force", "err", err)
		}
		cancel()
	}
}

// load reads the keys and swaps them in.
func (k *Keyring) load(ctx context.Context) error {
	k.loadMu.Lock()
	defer k.loadMu.Unlock()
	return k.loadLocked(ctx)
}

func (k *Keyring) loadLocked(ctx context.Context) error {
	recs, err := k.store.List(ctx, k.maxKeys+1)
	if err == nil && len(recs) > k.maxKeys {
		err = fmt.Errorf("more than %d keys are stored (auth.max_keys): revoke unused ones or raise the limit", k.maxKeys)
	}
	if err != nil {
		k.reloads.WithLabelValues("error").Inc()
		return fmt.Errorf("cannot load API keys: %w", err)
	}
	m := make(map[string]Record, len(recs))
	for _, r := range recs {
		m[r.Hash] = r
	}
	k.keys.Store(&m)
	k.loadedAt.Store(k.now().UnixNano())
	k.loaded.Set(float64(len(m)))
	k.reloads.WithLabelValues("ok").Inc()
	return nil
}

// Verify returns the principal of a presented key (already taken from its
// header), or why it is refused: ErrNoKey, ErrMalformed, ErrUnknown,
// ErrRevoked, ErrExpired. An unknown key reloads the keys first (at most
// once a second, waiting at most for ctx).
func (k *Keyring) Verify(ctx context.Context, key string) (Principal, error) {
	p, err := k.verify(ctx, key)
	k.verified.WithLabelValues(checkResult(err)).Inc()
	return p, err
}

func (k *Keyring) verify(ctx context.Context, key string) (Principal, error) {
	if key == "" {
		return Principal{}, ErrNoKey
	}
	if err := ParseKey(key); err != nil {
		return Principal{}, err
	}
	h := Hash(key)
	r, ok := (*k.keys.Load())[h]
	if !ok {
		// Perhaps created since the last load.
		if k.missReload(ctx) {
			r, ok = (*k.keys.Load())[h]
		}
		if !ok {
			return Principal{}, ErrUnknown
		}
	}
	if err := r.Usable(k.now()); err != nil {
		return Principal{}, err
	}
	return Principal{KeyID: r.ID, Name: r.Name, Tenant: r.Tenant, Role: r.Role}, nil
}

// missReload reloads the keys for an unknown key unless one did less than
// a second ago; it reports whether the keys were (re)loaded meanwhile.
func (k *Keyring) missReload(ctx context.Context) bool {
	before := k.loadedAt.Load()
	k.loadMu.Lock()
	defer k.loadMu.Unlock()
	if k.loadedAt.Load() != before {
		return true // another caller loaded while this one waited
	}
	now := k.now()
	if now.Sub(k.lastMiss) < minMissReload {
		return false
	}
	k.lastMiss = now
	if err := k.loadLocked(ctx); err != nil {
		k.log.Warn("cannot reload API keys for an unknown key", "err", err)
		return false
	}
	return true
}

// Len is the number of keys loaded.
func (k *Keyring) Len() int { return len(*k.keys.Load()) }

func checkResult(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrNoKey):
		return "missing"
	case errors.Is(err, ErrMalformed):
		return "malformed"
	case errors.Is(err, ErrRevoked):
		return "revoked"
	case errors.Is(err, ErrExpired):
		return "expired"
	}
	return "unknown"
}
