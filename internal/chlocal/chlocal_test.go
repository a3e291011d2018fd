package chlocal

import (
	"context"
	"strings"
	"testing"
)

func TestMissingBinaryIsAClearError(t *testing.T) {
	_, err := Start(context.Background(), Config{Dir: t.TempDir(), Binary: "/nonexistent/clickhouse-server"})
	if err == nil {
		t.Fatal("started a nonexistent binary")
	}
	if _, err := Start(context.Background(), Config{}); err == nil {
		t.Fatal("started without a directory")
	}
	for _, want := range []string{"apt-get install clickhouse-server", "--clickhouse-addr"} {
		if !strings.Contains(ErrNotInstalled.Error(), want) {
			t.Fatalf("ErrNotInstalled must tell the user how to install or point elsewhere; it lacks %q", want)
		}
	}
}

func TestStartAnswersAndStops(t *testing.T) {
	if _, err := FindBinary(); err != nil {
		t.Fatalf("clickhouse-server is required by the suite (make test installs it): %v", err)
	}
	s, err := Start(context.Background(), Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Done():
	default:
		t.Fatal("server still running after Close")
	}
}
