package clickhouse

import (
	"github.com/sightline-dev/sightline/processors/detectors"
	"github.com/sightline-dev/sightline/processors/detectors/registry"
)

// registrySchema is the schema of the default detectors' outputs: the
// llm_events insert the golden SQL test checks (every output's column).
func registrySchema() *detectors.Schema {
	s, err := registry.Schema(nil)
	if err != nil {
		panic(err) // registry's tests report an invalid declaration
	}
	return s
}
