package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sightline-dev/sightline/internal/auth"
	"github.com/sightline-dev/sightline/internal/config"
	"github.com/sightline-dev/sightline/internal/lifecycle"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

// keysFileOf is the keys file the configuration names (auth.keys_file),
// "" for ClickHouse.
func keysFileOf(cfg config.Config) string { return cfg.Auth.KeysFile }

func newKeys(g *globals) *cobra.Command {
	var keysFile string
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Create, list and revoke API keys (each has a tenant and a role: ingest, read or admin)",
		Long: `API keys let callers in when auth.enabled is true. A key has a tenant and a
role: ingest (POST /v1/events, OTLP), read (the read API, the Console) or
admin (both, the audit trail and the admin API). A read or admin key of
tenant '*' acts for every tenant.

Only a key's SHA-256 is stored: in ClickHouse (llm_api_keys) by default, or
in a JSON file (auth.keys_file, --keys-file) for a single node. Creating and
revoking keys is recorded in the audit trail (llm_audit; with a keys file,
in the JSON-lines file beside it, <keys file>.audit.jsonl). Every process
reloads the keys every auth.refresh_interval (5s by default, at most 10s):
a revoked key stops working within that time.`,
	}
	cmd.PersistentFlags().StringVar(&keysFile, "keys-file", "", "keep the keys in this file instead of ClickHouse (default: auth.keys_file)")
	open := func(cmd *cobra.Command) (*keyStore, error) {
		cfg, err := g.load(cmd)
		if err != nil {
			return nil, err
		}
		path := keysFile
		if path == "" {
			path = keysFileOf(cfg)
		}
		if path != "" {
			return &keyStore{Store: &auth.FileStore{Path: path}, audit: fileAudit(path + ".audit.jsonl"), close: func() {}}, nil
		}
		conn, err := openClickHouse(cmd, cfg)
		if err != nil {
			return nil, err
		}
		return &keyStore{Store: auth.ClickHouseStore{Conn: conn},
			audit: func(ctx context.Context, r chsink.AuditRow) error { return chsink.InsertAudit(ctx, conn, r) },
			close: func() { conn.Close() }}, nil
	}
	cmd.AddCommand(newKeysCreate(g, open), newKeysList(g, open), newKeysRevoke(g, open))
	return cmd
}

// keyStore is where the keys and their audit rows go.
type keyStore struct {
	auth.Store
	audit func(context.Context, chsink.AuditRow) error
	close func()
}

type openKeys func(*cobra.Command) (*keyStore, error)

func newKeysCreate(g *globals, open openKeys) *cobra.Command {
	var tenant, role, name, expires string
	cmd := &cobra.Command{
		Use:   "create --tenant T --role ingest|read|admin [--name N] [--expires D]",
		Short: "Create a key and print it (once: only its hash is stored)",
		Long: `Create a key and print it on stdout, alone on its line, so a script can
capture it (KEY=$(sightline keys create ...)); its id and scope go to stderr.
The key is shown this once: only its SHA-256 is stored.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var exp time.Time
			if expires != "" {
				var err error
				if exp, err = parseExpires(expires, time.Now()); err != nil {
					return err
				}
			}
			s, err := open(cmd)
			if err != nil {
				return err
			}
			defer s.close()
			actor := chsink.CLIActor()
			key, rec, err := auth.NewKeyRecord(tenant, auth.Role(role), name, exp, actor)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if err := s.Add(ctx, rec); err != nil {
				return fmt.Errorf("cannot store the key: %w", err)
			}
			detail, _ := json.Marshal(map[string]any{"role": rec.Role, "name": rec.Name, "expires_at": rec.ExpiresAt})
			if err := s.audit(ctx, chsink.AuditRow{Actor: actor, Action: chsink.AuditKeyCreate, Tenant: rec.Tenant, Target: rec.ID,
				Detail: string(detail)}); err != nil {
				// A key nobody can account for must not work.
				if _, rerr := s.Revoke(ctx, rec.ID, time.Now()); rerr != nil {
					return fmt.Errorf("%w; and cannot revoke the unaudited key %s: %v (revoke it with `sightline keys revoke %s`)", err, rec.ID, rerr, rec.ID)
				}
				return fmt.Errorf("%w; the key was revoked (create it again once the audit trail can be written)", err)
			}
			fmt.Fprintln(g.out, key)
			w := cmd.ErrOrStderr()
			fmt.Fprintf(w, "created key %s: tenant %s, role %s", rec.ID, rec.Tenant, rec.Role)
			if !rec.ExpiresAt.IsZero() {
				fmt.Fprintf(w, ", expires %s", rec.ExpiresAt.Format(time.RFC3339))
			}
			fmt.Fprintln(w, "\nstore it now: it is not shown again. Send it as Authorization: Bearer <key>.")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&tenant, "tenant", "", "the key's tenant (required; '*' for a read or admin key of every tenant)")
	f.StringVar(&role, "role", "", "ingest, read or admin (required)")
	f.StringVar(&name, "name", "", "a name to recognise the key by (who or what uses it)")
	f.StringVar(&expires, "expires", "", "when the key stops working: a duration from now (90d, 1d12h, 36h) or a date (2027-01-31, RFC 3339); default never")
	_ = cmd.MarkFlagRequired("tenant")
	_ = cmd.MarkFlagRequired("role")
	return cmd
}

// parseExpires reads --expires: a duration from now or a date.
func parseExpires(s string, now time.Time) (time.Time, error) {
	var t time.Time
	if d, err := lifecycle.ParseDuration(s); err == nil {
		t = now.Add(time.Duration(d))
	} else if t, err = time.Parse(time.RFC3339, s); err != nil {
		if t, err = time.Parse(time.DateOnly, s); err != nil {
			return t, fmt.Errorf("cannot read --expires %q: want a duration from now (90d, 1d12h, 36h) or a date (2027-01-31, RFC 3339)", s)
		}
	}
	t = t.UTC().Truncate(time.Second)
	if !t.After(now) {
		return t, fmt.Errorf("cannot read --expires %q: %s is not in the future", s, t.Format(time.RFC3339))
	}
	return t, nil
}

func newKeysList(g *globals, open openKeys) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the keys: id, tenant, role, name, when created, expiry and state (never the keys)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := open(cmd)
			if err != nil {
				return err
			}
			defer s.close()
			recs, err := s.List(cmd.Context(), 1_000_000)
			if err != nil {
				return err
			}
			return printKeys(g.out, recs, time.Now(), asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per key")
	return cmd
}

// keyView is a key as list shows it: no hash.
type keyView struct {
	ID        string    `json:"id"`
	Tenant    string    `json:"tenant"`
	Role      auth.Role `json:"role"`
	Name      string    `json:"name,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by,omitempty"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
	State     string    `json:"state"`
}

func printKeys(w io.Writer, recs []auth.Record, now time.Time, asJSON bool) error {
	views := make([]keyView, len(recs))
	for i, r := range recs {
		state := "active"
		switch err := r.Usable(now); {
		case errors.Is(err, auth.ErrRevoked):
			state = "revoked"
		case errors.Is(err, auth.ErrExpired):
			state = "expired"
		}
		views[i] = keyView{ID: r.ID, Tenant: r.Tenant, Role: r.Role, Name: r.Name, CreatedAt: r.CreatedAt, CreatedBy: r.CreatedBy,
			ExpiresAt: r.ExpiresAt, RevokedAt: r.RevokedAt, State: state}
	}
	if asJSON {
		enc := json.NewEncoder(w)
		for _, v := range views {
			if err := enc.Encode(v); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTENANT\tROLE\tNAME\tCREATED\tEXPIRES\tSTATE")
	ts := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format(time.RFC3339)
	}
	for _, v := range views {
		name := v.Name
		if name == "" {
			name = "-"
		}
		state := v.State
		if state == "revoked" {
			state += " " + ts(v.RevokedAt)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", v.ID, v.Tenant, v.Role, name, ts(v.CreatedAt), ts(v.ExpiresAt), state)
	}
	return tw.Flush()
}

func newKeysRevoke(g *globals, open openKeys) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a key (by the id keys list shows): every process refuses it within auth.refresh_interval",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := open(cmd)
			if err != nil {
				return err
			}
			defer s.close()
			ctx := cmd.Context()
			actor := chsink.CLIActor()
			rec, err := s.Revoke(ctx, args[0], time.Now())
			if err != nil {
				return err
			}
			if err := s.audit(ctx, chsink.AuditRow{Actor: actor, Action: chsink.AuditKeyRevoke, Tenant: rec.Tenant, Target: rec.ID,
				Detail: fmt.Sprintf(`{"role":%q}`, rec.Role)}); err != nil {
				return fmt.Errorf("the key is revoked, but %w", err)
			}
			fmt.Fprintf(g.out, "revoked key %s (tenant %s, role %s) at %s; processes refuse it within auth.refresh_interval (at most %s)\n",
				rec.ID, rec.Tenant, rec.Role, rec.RevokedAt.UTC().Format(time.RFC3339), auth.MaxRefresh)
			return nil
		},
	}
}

// fileAudit appends audit rows as JSON lines to path (mode 0600): the
// audit trail of a keys file, which has no ClickHouse beside it.
func fileAudit(path string) func(context.Context, chsink.AuditRow) error {
	return func(_ context.Context, r chsink.AuditRow) error {
		if r.TS.IsZero() {
			r.TS = time.Now().UTC()
		}
		if r.Outcome == "" {
			r.Outcome = chsink.AuditOK
		}
		b, err := json.Marshal(map[string]any{"ts": r.TS.UTC().Format(time.RFC3339Nano), "actor": r.Actor, "action": r.Action,
			"tenant": r.Tenant, "target": r.Target, "detail": json.RawMessage(orEmptyObject(r.Detail)), "outcome": r.Outcome})
		if err != nil {
			return fmt.Errorf("cannot write the audit trail: %w", err)
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return fmt.Errorf("cannot write the audit trail: %w", err)
		}
		if _, err := f.Write(append(b, '\n')); err != nil {
			f.Close()
			return fmt.Errorf("cannot write the audit trail: %w", err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("cannot write the audit trail: %w", err)
		}
		return nil
	}
}

func orEmptyObject(s string) string {
	if s == "" {
		return "{}"
	}
	return s
}
