package sightlineauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/extensionauth"
	"go.opentelemetry.io/collector/extension/extensionmiddleware"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sightline-dev/sightline/internal/auth"
)

// TenantMetadataKey is the client metadata key that carries the key's
// tenant.
const TenantMetadataKey = "x-sightline-tenant"

// Attribute names of the client.Info's Auth.
const (
	AttrTenant = "tenant"
	AttrKeyID  = "key_id"
	AttrRole   = "role"
)

type sightlineAuth struct {
	cfg   *Config
	set   extension.Settings
	guard *auth.Guard   // the host's, or built at Start
	ring  *auth.Keyring // owned: built at Start, closed at Shutdown
}

var (
	_ extensionauth.Server           = (*sightlineAuth)(nil)
	_ extensionmiddleware.HTTPServer = (*sightlineAuth)(nil)
)

func newExtension(cfg *Config, g *auth.Guard, set extension.Settings) *sightlineAuth {
	return &sightlineAuth{cfg: cfg, set: set, guard: g}
}

// Start loads the keys (an error when they cannot be read: a collector
// that cannot check keys does not start).
func (e *sightlineAuth) Start(ctx context.Context, _ component.Host) error {
	if e.guard != nil {
		return nil
	}
	ac := e.cfg.authConfig()
	ring, err := auth.NewKeyring(ctx, &auth.FileStore{Path: e.cfg.KeysFile}, ac, nil, slog.Default())
	if err != nil {
		return fmt.Errorf("sightlineauth: %w", err)
	}
	g, err := auth.NewGuard(ring, ac, nil)
	if err != nil {
		ring.Close()
		return fmt.Errorf("sightlineauth: %w", err)
	}
	e.ring, e.guard = ring, g
	return nil
}

// Shutdown stops the keys' reloads.
func (e *sightlineAuth) Shutdown(context.Context) error {
	if e.ring != nil {
		e.ring.Close()
		e.ring = nil
	}
	return nil
}

// Authenticate implements extensionauth.Server: sources are the request's
// headers (HTTP) or metadata (gRPC). A refusal is a gRPC status
// (Unauthenticated, PermissionDenied, ResourceExhausted), which the
// collector's gRPC server returns as is.
func (e *sightlineAuth) Authenticate(ctx context.Context, sources map[string][]string) (context.Context, error) {
	p, err := e.check(ctx, sources)
	if err != nil {
		code := codes.PermissionDenied
		var d *auth.Denied
		if errors.As(err, &d) {
			switch d.Status {
			case http.StatusUnauthorized:
				code = codes.Unauthenticated
			case http.StatusTooManyRequests:
				code = codes.ResourceExhausted
			}
		}
		return ctx, status.Error(code, err.Error())
	}
	return withPrincipal(ctx, p), nil
}

func (e *sightlineAuth) check(ctx context.Context, headers map[string][]string) (auth.Principal, error) {
	if e.guard == nil {
		return auth.Principal{}, &auth.Denied{Status: http.StatusUnauthorized, Err: errors.New("sightlineauth has not started")}
	}
	return e.guard.Authenticate(ctx, auth.SurfaceOTLP, auth.RoleIngest, headers)
}

// GetHTTPHandler implements extensionmiddleware.HTTPServer: requests
// without an ingest key are answered 401, 403 or 429 (with Retry-After)
// and a JSON error before the receiver reads their body.
func (e *sightlineAuth) GetHTTPHandler(context.Context) (extensionmiddleware.WrapHTTPHandlerFunc, error) {
	return func(_ context.Context, next http.Handler) (http.Handler, error) {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, err := e.check(r.Context(), r.Header)
			if err != nil {
				auth.WriteDenied(w, err, false)
				return
			}
			next.ServeHTTP(w, r.WithContext(withPrincipal(r.Context(), p)))
		}), nil
	}, nil
}

// withPrincipal puts p in ctx's client.Info: as Auth, and its tenant as
// the metadata key x-sightline-tenant in place of whatever the sender put
// there.
func withPrincipal(ctx context.Context, p auth.Principal) context.Context {
	info := client.FromContext(ctx)
	md := map[string][]string{}
	for k := range info.Metadata.Keys() {
		md[k] = info.Metadata.Get(k)
	}
	md[TenantMetadataKey] = []string{p.Tenant}
	return client.NewContext(ctx, client.Info{Addr: info.Addr, Auth: authData{p}, Metadata: client.NewMetadata(md)})
}

// authData is the key's principal as the collector's client.AuthData.
type authData struct{ p auth.Principal }

func (a authData) GetAttribute(name string) any {
	switch name {
	case AttrTenant:
		return a.p.Tenant
	case AttrKeyID:
		return a.p.KeyID
	case AttrRole:
		return string(a.p.Role)
	case "subject":
		return a.p.KeyID
	}
	return nil
}

func (authData) GetAttributeNames() []string {
	return []string{AttrTenant, AttrKeyID, AttrRole, "subject"}
}

// TenantFromContext is the tenant of the key that sent the data in ctx:
// the Auth attribute, or after a batch processor (which keeps only the
// metadata keys it is given) the x-sightline-tenant metadata. "" when no
// sightlineauth extension let the data in. A sender can set that metadata
// itself only where no sightlineauth checks it, where it can name any
// tenant in its data anyway.
func TenantFromContext(ctx context.Context) string {
	info := client.FromContext(ctx)
	if info.Auth != nil {
		if t, ok := info.Auth.GetAttribute(AttrTenant).(string); ok && t != "" {
			return t
		}
	}
	if v := info.Metadata.Get(TenantMetadataKey); len(v) == 1 {
		return v[0]
	}
	return ""
}
