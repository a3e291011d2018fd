package auth

import (
	"context"
	"errors"
	"fmt"
)

// Principal is who a request acts as: the key it presented, or, when
// authentication is off, Anonymous (every tenant, every role).
type Principal struct {
	// KeyID is the key's public id ("" when Anonymous).
	KeyID string
	// Name is the key's name as given at creation.
	Name string
	// Tenant is the key's tenant, or AllTenants.
	Tenant string
	Role   Role
	// Anonymous: authentication is off (loopback, or --insecure).
	Anonymous bool
}

// Anonymous is the principal of every request when authentication is off.
var Anonymous = Principal{Tenant: AllTenants, Role: RoleAdmin, Anonymous: true}

// AllTenants reports whether p acts for every tenant.
func (p Principal) AllTenants() bool { return p.Tenant == AllTenants }

// Actor is p as the audit trail names it.
func (p Principal) Actor() string {
	if p.Anonymous {
		return "anonymous"
	}
	return p.KeyID
}

// ErrWrongTenant: the request names a tenant its key is not for (403).
var ErrWrongTenant = errors.New("this API key is not for that tenant")

// ErrRole: the key's role does not allow the request (403).
var ErrRole = errors.New("this API key's role does not allow this")

// ReadTenant is the tenant a read is restricted to, given the tenant the
// request asked for ("" for any): the key's own tenant ("" only for a key
// of every tenant, meaning no restriction). Asking for another tenant is
// ErrWrongTenant.
func (p Principal) ReadTenant(requested string) (string, error) {
	if p.AllTenants() {
		return requested, nil
	}
	if requested != "" && requested != p.Tenant {
		return "", fmt.Errorf("cannot read tenant %q: %w (it reads %q)", requested, ErrWrongTenant, p.Tenant)
	}
	return p.Tenant, nil
}

// TenantMismatch says what happens to an event that claims a tenant other
// than its key's.
type TenantMismatch string

const (
	// Relabel stores the event under the key's tenant.
	Relabel TenantMismatch = "relabel"
	// Refuse rejects the event.
	Refuse TenantMismatch = "refuse"
)

// IngestTenant is the tenant an event claiming claimed is stored under:
// the key's. A key of every tenant keeps the claim. relabeled says the
// claim was another tenant and was replaced; under Refuse that is
// ErrWrongTenant instead.
func (p Principal) IngestTenant(claimed string, on TenantMismatch) (tenant string, relabeled bool, err error) {
	if p.AllTenants() {
		return claimed, false, nil
	}
	if claimed == "" || claimed == p.Tenant {
		return p.Tenant, false, nil
	}
	if on == Refuse {
		return "", false, fmt.Errorf("event claims tenant %q: %w (it sends for %q; auth.tenant_mismatch is refuse)", claimed, ErrWrongTenant, p.Tenant)
	}
	return p.Tenant, true, nil
}

type ctxKey struct{}

// NewContext returns ctx carrying p.
func NewContext(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// FromContext returns the principal a Guard put in ctx. ok false means no
// guard ran: the caller must refuse, never assume anyone.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(ctxKey{}).(Principal)
	return p, ok
}
