package distribution

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"go.opentelemetry.io/collector/otelcol"
	"go.yaml.in/yaml/v3"

	"github.com/sightline-dev/sightline/collector/sightlineauth"
	"github.com/sightline-dev/sightline/internal/auth"
)

// Options configure a collector run inside another process: `sightline up
// --otlp` runs the same receiver, processors and exporter as
// sightline-collector, from the same default configuration, with these
// values laid over it.
type Options struct {
	// Brokers the Sightline exporter produces to (required).
	Brokers []string
	// GRPCAddr and HTTPAddr are the OTLP listen addresses; empty means
	// 127.0.0.1:4317 and 127.0.0.1:4318.
	GRPCAddr, HTTPAddr string
	// MetricsAddr serves the collector's own metrics (the exporter's
	// produced, dropped and mapping-issue counters); empty means
	// 127.0.0.1:DefaultMetricsPort.
	MetricsAddr string
	// Tenant is the exporter's default tenant.
	Tenant string
	// Guard, when it checks keys, makes both receivers require an
	// ingest key (the sightlineauth extension, with this guard); the
	// batch processor keeps the key's tenant (metadata_keys) for the
	// exporter.
	Guard *auth.Guard
	// TLSCertFile and TLSKeyFile, when set, serve both receivers over
	// TLS, the files checked for a change every TLSReload (default 10s).
	TLSCertFile, TLSKeyFile string
	TLSReload               time.Duration
}

// Running is a collector started by Start.
type Running struct {
	col     *otelcol.Collector
	stopped chan struct{}
	err     error // set before stopped is closed
}

// Start runs the distribution in this process and returns once its
// pipelines are running (or failed to start). The collector does not
// watch for signals: the caller stops it with Shutdown.
func Start(ctx context.Context, o Options) (*Running, error) {
	if len(o.Brokers) == 0 {
		return nil, errors.New("otlp: no Kafka brokers to export to")
	}
	override, err := o.yaml()
	if err != nil {
		return nil, err
	}
	set := Settings("yaml:"+DefaultConfig, "yaml:"+override)
	if o.Guard != nil && o.Guard.Enabled() {
		set.Factories = func() (otelcol.Factories, error) { return components(o.Guard) }
	}
	set.DisableGracefulShutdown = true
	col, err := otelcol.NewCollector(set)
	if err != nil {
		return nil, fmt.Errorf("otlp: cannot create the collector: %w", err)
	}
	r := &Running{col: col, stopped: make(chan struct{})}
	go func() {
		r.err = col.Run(context.WithoutCancel(ctx))
		close(r.stopped)
	}()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-r.stopped:
			err := r.err
			if err == nil {
				err = errors.New("stopped while starting")
			}
			return nil, fmt.Errorf("otlp: collector did not start (are %s and %s free?): %w", o.grpc(), o.http(), err)
		case <-ctx.Done():
			r.Shutdown()
			return nil, ctx.Err()
		case <-tick.C:
			if col.GetState() == otelcol.StateRunning {
				return r, nil
			}
		}
	}
}

// Done is closed when the collector has stopped; Shutdown then returns
// why.
func (r *Running) Done() <-chan struct{} { return r.stopped }

// Shutdown stops the collector, flushing what its pipelines hold, waits
// for it and returns the error it stopped with, if any.
func (r *Running) Shutdown() error {
	r.col.Shutdown()
	<-r.stopped
	return r.err
}

func (o Options) grpc() string { return orDefault(o.GRPCAddr, "127.0.0.1:4317") }
func (o Options) http() string { return orDefault(o.HTTPAddr, "127.0.0.1:4318") }

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// yaml is the configuration laid over DefaultConfig.
func (o Options) yaml() (string, error) {
	metrics := orDefault(o.MetricsAddr, fmt.Sprintf("127.0.0.1:%d", DefaultMetricsPort))
	host, portStr, err := net.SplitHostPort(metrics)
	if err != nil {
		return "", fmt.Errorf("otlp: metrics address %q: %w", metrics, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return "", fmt.Errorf("otlp: metrics address %q: port is not a number", metrics)
	}
	exp := map[string]any{"brokers": o.Brokers}
	if o.Tenant != "" {
		exp["tenant"] = o.Tenant
	}
	grpcCfg := map[string]any{"endpoint": o.grpc()}
	httpCfg := map[string]any{"endpoint": o.http()}
	if o.TLSCertFile != "" {
		reload := o.TLSReload
		if reload == 0 {
			reload = 10 * time.Second
		}
		t := map[string]any{"cert_file": o.TLSCertFile, "key_file": o.TLSKeyFile, "reload_interval": reload.String()}
		grpcCfg["tls"], httpCfg["tls"] = t, t
	}
	cfg := map[string]any{
		"receivers": map[string]any{"otlp": map[string]any{"protocols": map[string]any{
			"grpc": grpcCfg,
			"http": httpCfg,
		}}},
		"exporters": map[string]any{"sightline": exp},
		"service": map[string]any{"telemetry": map[string]any{
			// The host process logs what matters; the collector only
			// warnings and errors.
			"logs": map[string]any{"level": "warn"},
			"metrics": map[string]any{"readers": []any{map[string]any{"pull": map[string]any{"exporter": map[string]any{
				"prometheus": map[string]any{"host": host, "port": port},
			}}}}},
		}},
	}
	if o.Guard != nil && o.Guard.Enabled() {
		// gRPC through the authenticator; HTTP through the middleware,
		// which answers 403 and 429 where the authenticator could only
		// say 401.
		cfg["extensions"] = map[string]any{"sightlineauth": map[string]any{}}
		grpcCfg["auth"] = map[string]any{"authenticator": "sightlineauth"}
		httpCfg["middlewares"] = []any{map[string]any{"id": "sightlineauth"}, map[string]any{"id": "badrequest"}}
		cfg["processors"] = map[string]any{"batch": map[string]any{"metadata_keys": []any{sightlineauth.TenantMetadataKey}}}
		cfg["service"].(map[string]any)["extensions"] = []any{"badrequest", "sightlineauth"}
	}
	b, err := yaml.Marshal(cfg)
	return string(b), err
}
