package clickhouse

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/user"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// The audit trail (llm_audit, migration 0009): who read which call's
// content, who created or revoked keys, who ran forget or export. Rows are
// appended, never updated; they name what was acted on, never content.

// Audit actions (llm_audit.action).
const (
	// AuditReadContent: a call's content was shown (the Console's call
	// detail page). Target is the event id.
	AuditReadContent = "read_content"
	// AuditExport: a user's data was exported. Target is a hash of the
	// user id (see AuditUserTarget), detail the counts.
	AuditExport = "export"
	// AuditForget: a user's data was deleted. Target as for export.
	AuditForget = "forget"
	// AuditKeyCreate and AuditKeyRevoke: an API key was created or
	// revoked. Target is the key's id.
	AuditKeyCreate = "key_create"
	AuditKeyRevoke = "key_revoke"
)

// Audit outcomes (llm_audit.outcome).
const (
	AuditOK     = "ok"
	AuditDenied = "denied"
	AuditFailed = "error"
)

// AuditRow is one llm_audit row.
type AuditRow struct {
	// TS is when it happened (zero: now).
	TS time.Time
	// ID identifies the row (empty: a random one).
	ID string
	// Actor is the API key's id of the caller, or CLIActor() for a
	// command run on a machine; ActorName, ActorTenant and ActorRole
	// describe the key (empty for the CLI).
	Actor, ActorName, ActorTenant, ActorRole string
	// Action is one of the Audit* actions.
	Action string
	// Tenant is the tenant of what was acted on.
	Tenant string
	// Target names what was acted on: an event id, a key id, a hash of a
	// user id. Never content, never a raw user id.
	Target string
	// Detail is a small JSON object (counts, the page); "" is "{}".
	Detail string
	// RemoteAddr is the caller's address (HTTP), empty for the CLI.
	RemoteAddr string
	// Outcome is AuditOK (default), AuditDenied or AuditFailed.
	Outcome string
}

// AuditTable is llm_audit's insert.
var AuditTable = NewTable("llm_audit",
	Col("ts", func(r *AuditRow) any { return r.TS.UTC().Truncate(time.Second) }),
	Col("ts_us", func(r *AuditRow) any { return uint32(r.TS.Nanosecond() / 1000) }),
	Col("id", func(r *AuditRow) any { return r.ID }),
	Col("actor", func(r *AuditRow) any { return r.Actor }),
	Col("actor_name", func(r *AuditRow) any { return r.ActorName }),
	Col("actor_tenant", func(r *AuditRow) any { return r.ActorTenant }),
	Col("actor_role", func(r *AuditRow) any { return r.ActorRole }),
	Col("action", func(r *AuditRow) any { return r.Action }),
	Col("tenant", func(r *AuditRow) any { return r.Tenant }),
	Col("target", func(r *AuditRow) any { return r.Target }),
	Col("detail", func(r *AuditRow) any { return r.Detail }),
	Col("remote_addr", func(r *AuditRow) any { return r.RemoteAddr }),
	Col("outcome", func(r *AuditRow) any { return r.Outcome }),
)

// InsertAudit appends audit rows (one attempt), filling a zero TS with
// now, an empty ID with a random one, an empty Detail with "{}" and an
// empty Outcome with AuditOK. A caller that must not act unaudited checks
// the error before acting (or before showing what it read).
func InsertAudit(ctx context.Context, conn driver.Conn, rows ...AuditRow) error {
	now := time.Now()
	for i := range rows {
		r := &rows[i]
		if r.TS.IsZero() {
			r.TS = now
		}
		if r.ID == "" {
			r.ID = newAuditID()
		}
		if r.Detail == "" {
			r.Detail = "{}"
		}
		if r.Outcome == "" {
			r.Outcome = AuditOK
		}
		if r.Action == "" {
			return fmt.Errorf("cannot write audit row: no action")
		}
	}
	if err := AuditTable.Insert(ctx, conn, rows); err != nil {
		return fmt.Errorf("cannot write the audit trail: %w", err)
	}
	return nil
}

func newAuditID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// CLIActor names the person running a command on this machine
// ("cli:<user>@<host>"), the actor of audit rows the CLI writes.
func CLIActor() string {
	name := "unknown"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	return "cli:" + name + "@" + host
}

// AuditUserTarget is what an audit row names instead of a user id: the
// first 16 hex digits of SHA-256(tenant + "\x00" + user id), so the trail
// shows that the same user was exported and then forgotten without keeping
// the id the deletion removed.
func AuditUserTarget(tenant, userID string) string {
	return "user:" + shortHash(tenant+"\x00"+userID)
}

// AuditView is one llm_audit row as the read API shows it.
type AuditView struct {
	Time        time.Time `json:"time"`
	ID          string    `json:"id"`
	Actor       string    `json:"actor"`
	ActorName   string    `json:"actor_name,omitempty"`
	ActorTenant string    `json:"actor_tenant,omitempty"`
	ActorRole   string    `json:"actor_role,omitempty"`
	Action      string    `json:"action"`
	Tenant      string    `json:"tenant"`
	Target      string    `json:"target"`
	Detail      string    `json:"detail"`
	RemoteAddr  string    `json:"remote_addr,omitempty"`
	Outcome     string    `json:"outcome"`
}

// AuditFilterColumns are the columns ReadAudit filters on.
var AuditFilterColumns = []string{"action", "actor", "tenant", "target", "outcome"}

// AuditFilter selects audit rows.
type AuditFilter struct {
	// Tenant, when set, keeps the rows about that tenant or done by a key
	// of that tenant: what an admin key of one tenant may see. Set from
	// the caller's key, never from a request parameter.
	Tenant string
	Eq     []Eq
	Range
}

func (f AuditFilter) sql() (string, []any, error) {
	var extra []string
	if f.Tenant != "" {
		extra = append(extra, "(tenant = ? OR actor_tenant = ?)")
	}
	w, args, err := where("ts", f.Range, AuditFilterColumns, f.Eq, extra...)
	if err != nil {
		return "", nil, err
	}
	if f.Tenant != "" {
		args = append(args, f.Tenant, f.Tenant)
	}
	return `SELECT ts, ts_us, id, actor, actor_name, actor_tenant, actor_role, action, tenant, target, detail, remote_addr, outcome
FROM llm_audit WHERE ` + w + `
ORDER BY ts, ts_us, id` + limit(f.Limit), args, nil
}

// ReadAudit reads audit rows, oldest first.
func ReadAudit(ctx context.Context, conn driver.Conn, f AuditFilter) ([]AuditView, error) {
	q, args, err := f.sql()
	if err != nil {
		return nil, err
	}
	rows, err := conn.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("cannot read llm_audit: %w", err)
	}
	defer rows.Close()
	out := []AuditView{}
	for rows.Next() {
		var a AuditView
		var us uint32
		if err := rows.Scan(&a.Time, &us, &a.ID, &a.Actor, &a.ActorName, &a.ActorTenant, &a.ActorRole, &a.Action, &a.Tenant, &a.Target,
			&a.Detail, &a.RemoteAddr, &a.Outcome); err != nil {
			return nil, fmt.Errorf("cannot read llm_audit: %w", err)
		}
		a.Time = a.Time.Add(time.Duration(us) * time.Microsecond).UTC()
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot read llm_audit: %w", err)
	}
	return out, nil
}
