// Command sightline-collector is the Sightline OpenTelemetry Collector
// distribution: OTLP in, Sightline events on Kafka out. Without --config it
// runs the embedded default configuration (see collector/distribution).
package main

import (
	"os"

	"github.com/sightline-dev/sightline/collector/distribution"
)

func main() {
	// otelcol handles SIGINT/SIGTERM itself and shuts the pipelines down.
	if err := distribution.NewCommand().Execute(); err != nil {
		os.Exit(1)
	}
}
