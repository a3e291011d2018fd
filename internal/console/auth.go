package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/sightline-dev/sightline/internal/auth"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

// KeyGate is the ContentGate of a server with authentication: a request
// that came in with a read or admin key may see content (and its read is
// audited); one let in without authentication falls back to Fallback
// (LoopbackOnly: --insecure beyond loopback shows no content).
type KeyGate struct {
	Fallback ContentGate
}

// AllowContent implements ContentGate.
func (g KeyGate) AllowContent(r *http.Request) error {
	p, ok := auth.FromContext(r.Context())
	switch {
	case !ok:
		return errors.New("this request was not authenticated")
	case p.Anonymous:
		return g.Fallback.AllowContent(r)
	case !p.Role.Allows(auth.RoleRead):
		return fmt.Errorf("a %s key may not read call content", p.Role)
	}
	return nil
}

// principal is who the request acts as: the guard in ServeHTTP set it.
func principal(r *http.Request) auth.Principal {
	p, ok := auth.FromContext(r.Context())
	if !ok {
		// Never reached through ServeHTTP; a handler called otherwise
		// sees nothing of any tenant.
		return auth.Principal{Tenant: "\x00none", Role: auth.RoleRead}
	}
	return p
}

// onlyTenant is the tenant every read of the request is restricted to
// ("" for a key of every tenant, or authentication off).
func onlyTenant(r *http.Request) string {
	if p := principal(r); !p.AllTenants() {
		return p.Tenant
	}
	return ""
}

// auditContent records that the request's caller read a call's content.
// The content is shown only when this succeeds.
func (c *Console) auditContent(ctx context.Context, r *http.Request, call *chsink.CallDetail) error {
	p := principal(r)
	row := chsink.AuditRow{Actor: p.Actor(), ActorName: p.Name, ActorTenant: p.Tenant, ActorRole: string(p.Role),
		Action: chsink.AuditReadContent, Tenant: call.Tenant, Target: call.EventID, RemoteAddr: r.RemoteAddr,
		Detail: `{"surface":"console"}`}
	if p.Anonymous {
		row.ActorTenant, row.ActorRole = "", ""
	}
	if err := chsink.InsertAudit(ctx, c.conn, row); err != nil {
		c.audits.WithLabelValues("error").Inc()
		return fmt.Errorf("cannot show the content: %w", err)
	}
	c.audits.WithLabelValues("ok").Inc()
	return nil
}
