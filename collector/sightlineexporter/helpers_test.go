package sightlineexporter

import (
	"testing"

	"github.com/sightline-dev/sightline/internal/broker"
)

// startBroker starts the in-process broker on a free port. The tests use
// internal/broker directly rather than internal/testenv so this package's
// tests need no ClickHouse.
func startBroker(tb testing.TB) *broker.Broker {
	tb.Helper()
	b, err := broker.Start(broker.Config{Port: -1})
	if err != nil {
		tb.Fatalf("cannot start in-process broker: %v", err)
	}
	tb.Cleanup(b.Close)
	return b
}

func must(tb testing.TB, err error, what string) {
	tb.Helper()
	if err != nil {
		tb.Fatalf("%s: %v", what, err)
	}
}
