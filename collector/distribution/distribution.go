// Package distribution is the sightline-collector: an OpenTelemetry
// Collector built from the OTLP receiver, the memory limiter and batch
// processors, the Sightline and debug exporters, the badrequest
// middleware (a 400, not a 500, for every malformed OTLP/HTTP body) and
// the sightlineauth extension (Sightline API keys on the receivers), with
// a default configuration that works with `sightline up` out of the box.
//
// It holds everything cmd/sightline-collector wires, so it can be tested;
// it must never call os.Exit or read flags itself (otelcol does).
package distribution

import (
	_ "embed"

	"github.com/spf13/cobra"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/provider/envprovider"
	"go.opentelemetry.io/collector/confmap/provider/fileprovider"
	"go.opentelemetry.io/collector/confmap/provider/yamlprovider"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/debugexporter"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/otelcol"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/batchprocessor"
	"go.opentelemetry.io/collector/processor/memorylimiterprocessor"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	"go.opentelemetry.io/collector/service/telemetry"
	"go.opentelemetry.io/collector/service/telemetry/otelconftelemetry"

	"github.com/sightline-dev/sightline/collector/sightlineauth"
	"github.com/sightline-dev/sightline/collector/sightlineexporter"
	"github.com/sightline-dev/sightline/internal/auth"
)

// DefaultConfig is the configuration used when no --config is given.
//
//go:embed config.yaml
var DefaultConfig string

// Version of the distribution.
const Version = "0.1.0"

// DefaultMetricsPort is where the collector's own metrics are served when a
// configuration does not say: not 8888, which every other collector uses.
const DefaultMetricsPort = 8889

// Components returns the factories of the distribution.
func Components() (otelcol.Factories, error) { return components(nil) }

// components returns the factories; with a guard, the sightlineauth
// extension checks keys with it instead of a keys_file (sightline up
// --otlp).
func components(guard *auth.Guard) (otelcol.Factories, error) {
	var err error
	f := otelcol.Factories{Telemetry: telemetryFactory{otelconftelemetry.NewFactory()}}
	if f.Receivers, err = otelcol.MakeFactoryMap[receiver.Factory](otlpreceiver.NewFactory()); err != nil {
		return f, err
	}
	if f.Processors, err = otelcol.MakeFactoryMap[processor.Factory](
		memorylimiterprocessor.NewFactory(), batchprocessor.NewFactory()); err != nil {
		return f, err
	}
	if f.Exporters, err = otelcol.MakeFactoryMap[exporter.Factory](
		sightlineexporter.NewFactory(), debugexporter.NewFactory()); err != nil {
		return f, err
	}
	authFactory := sightlineauth.NewFactory()
	if guard != nil {
		authFactory = sightlineauth.NewFactoryWithGuard(guard)
	}
	if f.Extensions, err = otelcol.MakeFactoryMap[extension.Factory](newBadRequestFactory(), authFactory); err != nil {
		return f, err
	}
	f.ExtensionModules = map[component.Type]string{
		badRequestType:     "github.com/sightline-dev/sightline/collector/distribution",
		sightlineauth.Type: "github.com/sightline-dev/sightline/collector/sightlineauth",
	}
	f.ReceiverModules = map[component.Type]string{
		component.MustNewType("otlp"): "go.opentelemetry.io/collector/receiver/otlpreceiver v0.165.0",
	}
	f.ProcessorModules = map[component.Type]string{
		component.MustNewType("memory_limiter"): "go.opentelemetry.io/collector/processor/memorylimiterprocessor v0.165.0",
		component.MustNewType("batch"):          "go.opentelemetry.io/collector/processor/batchprocessor v0.165.0",
	}
	f.ExporterModules = map[component.Type]string{
		sightlineexporter.Type:         "github.com/sightline-dev/sightline/collector/sightlineexporter",
		component.MustNewType("debug"): "go.opentelemetry.io/collector/exporter/debugexporter v0.165.0",
	}
	return f, nil
}

// Settings returns the collector settings; uris are the configuration
// sources (--config overrides them), the embedded default when empty.
func Settings(uris ...string) otelcol.CollectorSettings {
	if len(uris) == 0 {
		uris = []string{"yaml:" + DefaultConfig}
	}
	return otelcol.CollectorSettings{
		BuildInfo: component.BuildInfo{
			Command:     "sightline-collector",
			Description: "Sightline OpenTelemetry Collector: GenAI spans and log events in, Sightline events out",
			Version:     Version,
		},
		Factories: Components,
		ConfigProviderSettings: otelcol.ConfigProviderSettings{
			ResolverSettings: confmap.ResolverSettings{
				URIs: uris,
				ProviderFactories: []confmap.ProviderFactory{
					envprovider.NewFactory(), fileprovider.NewFactory(), yamlprovider.NewFactory(),
				},
				DefaultScheme: "env",
			},
		},
	}
}

// NewCommand returns the collector's command line (run, validate,
// components, ...).
func NewCommand() *cobra.Command { return otelcol.NewCommand(Settings()) }

// telemetryFactory is the collector's own telemetry with the metrics
// endpoint moved off 8888 when the configuration does not set it.
type telemetryFactory struct{ telemetry.Factory }

func (f telemetryFactory) CreateDefaultConfig() component.Config {
	cfg := f.Factory.CreateDefaultConfig()
	if c, ok := cfg.(*otelconftelemetry.Config); ok {
		for _, r := range c.Metrics.MeterProvider.Readers {
			if r.Pull != nil && r.Pull.Exporter.Prometheus != nil {
				host, port := "127.0.0.1", DefaultMetricsPort
				r.Pull.Exporter.Prometheus.Host, r.Pull.Exporter.Prometheus.Port = &host, &port
			}
		}
	}
	return cfg
}
