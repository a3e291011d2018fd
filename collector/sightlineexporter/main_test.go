package sightlineexporter

import (
	"testing"

	"github.com/sightline-dev/sightline/internal/testenv"
)

// TestMain stops the local ClickHouse the interop test may have started.
func TestMain(m *testing.M) { testenv.Main(m) }
