package app_test

import (
	"testing"

	"github.com/sightline-dev/sightline/internal/testenv"
)

// TestMain stops the ClickHouse that testenv starts for the tests that
// use a database of their own.
func TestMain(m *testing.M) { testenv.Main(m) }
