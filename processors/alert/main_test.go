package alert

import (
	"testing"

	"github.com/sightline-dev/sightline/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }
