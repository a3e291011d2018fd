package sightlineauth

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"

	"github.com/sightline-dev/sightline/internal/auth"
)

// Type is the extension's type: sightlineauth.
var Type = component.MustNewType("sightlineauth")

// NewFactory returns the factory of sightline-collector: the extension
// checks keys against its keys_file.
func NewFactory() extension.Factory {
	return extension.NewFactory(Type, createDefaultConfig,
		func(_ context.Context, set extension.Settings, cfg component.Config) (extension.Extension, error) {
			return newExtension(cfg.(*Config), nil, set), nil
		}, component.StabilityLevelAlpha)
}

// NewFactoryWithGuard returns a factory whose extension checks keys with
// g, the guard of the process the collector runs in (sightline up
// --otlp): the same keyring, rate limits and metrics as its HTTP server.
// keys_file is then not needed.
func NewFactoryWithGuard(g *auth.Guard) extension.Factory {
	return extension.NewFactory(Type,
		func() component.Config {
			c := createDefaultConfig().(*Config)
			c.withGuard = true
			return c
		},
		func(_ context.Context, set extension.Settings, cfg component.Config) (extension.Extension, error) {
			return newExtension(cfg.(*Config), g, set), nil
		}, component.StabilityLevelAlpha)
}

func createDefaultConfig() component.Config {
	d := auth.DefaultConfig()
	return &Config{RefreshInterval: d.RefreshInterval,
		RateLimit: RateLimitConfig{RequestsPerSecond: d.RateLimit.RequestsPerSecond, Burst: d.RateLimit.Burst}}
}
