package otlp

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
)

// TestEndpointSecretsNotLogged: an unreachable endpoint whose URL and
// headers carry credentials is logged by its host, without them.
func TestEndpointSecretsNotLogged(t *testing.T) {
	const token, key, pass = "OtlpQueryT0kenS3cret", "OtlpApiKeyS3cret9", "OtlpPassw0rdS3cret"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	var logs bytes.Buffer
	e, err := New(Config{Endpoint: "http://collector:" + pass + "@" + addr + "/v1/logs?token=" + token,
		Headers: map[string]string{"X-Api-Key": key}, Retries: 1, Logger: slog.New(slog.NewTextHandler(&logs, nil))}, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.Add(rows())
	e.Close(context.Background())
	out := logs.String()
	if !strings.Contains(out, "cannot send evaluation events") || !strings.Contains(out, addr) || !strings.Contains(out, "connection refused") {
		t.Fatalf("log does not name the endpoint and the failure:\n%s", out)
	}
	for _, s := range []string{token, key, pass} {
		if strings.Contains(out, s) {
			t.Errorf("secret %q logged:\n%s", s, out)
		}
	}
	if _, err := New(Config{Endpoint: "ftp://u:" + pass + "@x/v1/logs"}, nil); err == nil || strings.Contains(err.Error(), pass) {
		t.Errorf("config error: %v", err)
	}
}
