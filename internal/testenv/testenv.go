// Package testenv gives integration tests the real components: a local
// ClickHouse server (started once per test binary, or the one named by
// SIGHTLINE_TEST_CLICKHOUSE) with a fresh database per test, and an
// in-process Kafka-protocol broker per test.
//
// Tests that use ClickHouse call testenv.Main from TestMain so the server is
// stopped when the package's tests end.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sightline-dev/sightline/internal/broker"
	"github.com/sightline-dev/sightline/internal/chlocal"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

// EnvClickHouse names an existing server (host:port) to use instead of
// starting one.
const EnvClickHouse = "SIGHTLINE_TEST_CLICKHOUSE"

var (
	once    sync.Once
	server  *chlocal.Server
	chAddr  string
	chErr   error
	tempDir string
)

// Main runs the package's tests and stops the local ClickHouse afterwards.
func Main(m *testing.M) {
	code := m.Run()
	if server != nil {
		server.Close()
	}
	if tempDir != "" {
		os.RemoveAll(tempDir)
	}
	os.Exit(code)
}

// ClickHouseAddr returns the address of a running ClickHouse, starting one
// on first use. It fails the test when none can be had: ClickHouse is a
// required component of the suite, not an optional one.
func ClickHouseAddr(tb testing.TB) string {
	tb.Helper()
	once.Do(func() {
		if a := os.Getenv(EnvClickHouse); a != "" {
			chAddr = a
			return
		}
		tempDir, chErr = os.MkdirTemp("", "sightline-test-ch-")
		if chErr != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		server, chErr = chlocal.Start(ctx, chlocal.Config{Dir: tempDir, StartTimeout: 90 * time.Second})
		if chErr == nil {
			chAddr = server.Addr()
		}
	})
	if chErr != nil {
		tb.Fatalf("cannot start ClickHouse for the test (run `make test`, which installs it): %v", chErr)
	}
	return chAddr
}

// Database creates a fresh, migrated database for one test and returns a
// connection to it and its name; it is dropped when the test ends.
func Database(tb testing.TB) (driver.Conn, chsink.Options) {
	tb.Helper()
	addr := ClickHouseAddr(tb)
	ctx := context.Background()
	admin, err := chsink.Open(ctx, chsink.Options{Addrs: []string{addr}})
	if err != nil {
		tb.Fatalf("cannot connect to test ClickHouse: %v", err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "t_" + hex.EncodeToString(b[:])
	if err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("cannot create test database: %v", err)
	}
	opts := chsink.Options{Addrs: []string{addr}, Database: name}
	conn, err := chsink.Open(ctx, opts)
	if err != nil {
		tb.Fatalf("cannot connect to test database: %v", err)
	}
	if _, err := chsink.Migrate(ctx, conn); err != nil {
		tb.Fatalf("cannot migrate test database: %v", err)
	}
	tb.Cleanup(func() {
		conn.Close()
		_ = admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name)
		admin.Close()
	})
	return conn, opts
}

// Broker starts an in-process broker (kfake) on a free port, with the
// Sightline topics, stopped when the test ends.
func Broker(tb testing.TB, dataDir string) *broker.Broker {
	tb.Helper()
	b, err := broker.Start(broker.Config{Port: -1, DataDir: dataDir})
	if err != nil {
		tb.Fatalf("cannot start in-process broker: %v", err)
	}
	tb.Cleanup(b.Close)
	return b
}

// Must fails the test on err.
func Must(tb testing.TB, err error, what string) {
	tb.Helper()
	if err != nil {
		tb.Fatalf("%s: %v", what, err)
	}
}

// Eventually polls cond until it returns true or the timeout passes.
func Eventually(tb testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s (last: %s)", timeout, what, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Sprintf is fmt.Sprintf, for conditions' state strings.
var Sprintf = fmt.Sprintf
