package otlp

import (
	"testing"

	"go.uber.org/goleak"
)

// Every goroutine the package starts is owned and stopped: none may be
// left running when the tests end.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
