package sightlineauth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sightline-dev/sightline/internal/auth"
)

func loadConfig(t *testing.T, name string) (*Config, error) {
	t.Helper()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sub, err := cm.Sub(component.MustNewIDWithName(Type.String(), name).String())
	if err != nil {
		t.Fatal(err)
	}
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	if err := sub.Unmarshal(cfg); err != nil {
		return nil, err
	}
	return cfg, confmap.Validate(cfg)
}

func TestConfig(t *testing.T) {
	cfg, err := loadConfig(t, "minimal")
	if err != nil || cfg.RefreshInterval != 5*time.Second || cfg.RateLimit.RequestsPerSecond != 50 || cfg.RateLimit.Burst != 100 {
		t.Fatalf("minimal: %+v, %v", cfg, err)
	}
	cfg, err = loadConfig(t, "full")
	if err != nil || cfg.RefreshInterval != 2*time.Second || cfg.RateLimit.Burst != 400 {
		t.Fatalf("full: %+v, %v", cfg, err)
	}
	_, err = loadConfig(t, "invalid")
	for _, want := range []string{"keys_file: required", "refresh_interval", "rate_limit.burst"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("invalid config: %v, want %q named", err, want)
		}
	}
	if err := (NewFactoryWithGuard(auth.Off()).CreateDefaultConfig().(*Config)).Validate(); err != nil {
		t.Errorf("with the host's guard keys_file is not needed: %v", err)
	}
}

func newKeys(t *testing.T) (path string, ingest, read string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "keys.json")
	s := &auth.FileStore{Path: path}
	mk := func(role auth.Role) string {
		k, rec, err := auth.NewKeyRecord("acme", role, "", time.Time{}, "test")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Add(context.Background(), rec); err != nil {
			t.Fatal(err)
		}
		return k
	}
	return path, mk(auth.RoleIngest), mk(auth.RoleRead)
}

func start(t *testing.T, cfg *Config) *sightlineAuth {
	t.Helper()
	ext, err := NewFactory().Create(context.Background(), extensiontest.NewNopSettings(Type), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := ext.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ext.Shutdown(context.Background()) })
	return ext.(*sightlineAuth)
}

// The authenticator (gRPC) lets an ingest key in with its tenant in the
// client info, and answers the rest with the matching gRPC code.
func TestAuthenticate(t *testing.T) {
	path, ingest, read := newKeys(t)
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	cfg.KeysFile, cfg.RateLimit = path, RateLimitConfig{RequestsPerSecond: 0.001, Burst: 2}
	e := start(t, cfg)
	ctx := client.NewContext(context.Background(), client.Info{Metadata: client.NewMetadata(map[string][]string{TenantMetadataKey: {"beta"}, "other": {"x"}})})
	for _, c := range []struct {
		md   map[string][]string
		code codes.Code
	}{
		{map[string][]string{}, codes.Unauthenticated},
		{map[string][]string{"authorization": {"Bearer slk_nope"}}, codes.Unauthenticated},
		{map[string][]string{"authorization": {"Bearer " + read}}, codes.PermissionDenied},
		{map[string][]string{"authorization": {"Bearer " + ingest}}, codes.OK},
		{map[string][]string{"x-sightline-key": {ingest}}, codes.OK},
		{map[string][]string{"x-sightline-key": {ingest}}, codes.ResourceExhausted}, // a burst of 2 per key
	} {
		got, err := e.Authenticate(ctx, c.md)
		if status.Code(err) != c.code {
			t.Fatalf("%v: %v, want %s", c.md, err, c.code)
		}
		if err != nil {
			if strings.Contains(err.Error(), ingest) || strings.Contains(err.Error(), read) {
				t.Fatalf("the error quotes the key: %v", err)
			}
			continue
		}
		info := client.FromContext(got)
		if TenantFromContext(got) != "acme" || info.Auth.GetAttribute(AttrRole) != "ingest" || info.Metadata.Get("other")[0] != "x" ||
			len(info.Metadata.Get(TenantMetadataKey)) != 1 || info.Metadata.Get(TenantMetadataKey)[0] != "acme" {
			t.Fatalf("client info %+v", info)
		}
	}
}

// The HTTP middleware answers 401, 403 and 429 with a JSON error before
// the receiver sees the request, and passes an ingest key's request on
// with the tenant.
func TestHTTPMiddleware(t *testing.T) {
	path, ingest, read := newKeys(t)
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	cfg.KeysFile, cfg.RateLimit = path, RateLimitConfig{RequestsPerSecond: 0.001, Burst: 1}
	e := start(t, cfg)
	wrap, err := e.GetHTTPHandler(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var tenant string
	h, err := wrap(context.Background(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { tenant = TenantFromContext(r.Context()) }))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		key    string
		status int
	}{{"", 401}, {read, 403}, {ingest, 200}, {ingest, 429}} {
		r := httptest.NewRequest("POST", "/v1/traces", strings.NewReader("{}"))
		if c.key != "" {
			r.Header.Set("Authorization", "Bearer "+c.key)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != c.status || (c.status != 200 && !strings.Contains(w.Body.String(), `"error"`)) ||
			(c.status == 429 && w.Header().Get("Retry-After") == "") {
			t.Fatalf("key %q: %d %v %s, want %d", c.key, w.Code, w.Header(), w.Body, c.status)
		}
	}
	if tenant != "acme" {
		t.Fatalf("tenant in the receiver's context: %q", tenant)
	}
}

// A collector whose keys file cannot be read does not start.
func TestStartFailsWithoutKeys(t *testing.T) {
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	cfg.KeysFile = t.TempDir() // a directory: unreadable as keys
	ext, err := NewFactory().Create(context.Background(), extensiontest.NewNopSettings(Type), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := ext.Start(context.Background(), componenttest.NewNopHost()); err == nil || !strings.Contains(err.Error(), "sightlineauth") {
		t.Fatalf("start: %v", err)
	}
}
