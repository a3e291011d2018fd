package cli

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sightline-dev/sightline/internal/auth"
	"github.com/sightline-dev/sightline/internal/testenv"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

// keys create, list and revoke, in ClickHouse and in a keys file: the key
// is printed once and works, list never shows it or its hash, a revoked
// key is refused by a keyring within its refresh interval, and both
// actions are audited.
func TestKeysCommands(t *testing.T) {
	conn, opts := testenv.Database(t)
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "keys.json")
	for _, c := range []struct {
		name  string
		args  []string
		store auth.Store
		audit func(t *testing.T) []map[string]string
	}{
		{"clickhouse", []string{"--clickhouse-addr", opts.Addrs[0], "--clickhouse-database", opts.Database}, auth.ClickHouseStore{Conn: conn},
			func(t *testing.T) []map[string]string {
				rows, err := chsink.ReadAudit(ctx, conn, chsink.AuditFilter{Range: chsink.Range{Since: time.Now().Add(-time.Hour), Until: time.Now().Add(time.Hour), Limit: 100}})
				testenv.Must(t, err, "read audit")
				var out []map[string]string
				for _, r := range rows {
					out = append(out, map[string]string{"action": r.Action, "tenant": r.Tenant, "target": r.Target, "actor": r.Actor})
				}
				return out
			}},
		{"file", []string{"--keys-file", file}, &auth.FileStore{Path: file},
			func(t *testing.T) []map[string]string {
				b, err := os.ReadFile(file + ".audit.jsonl")
				testenv.Must(t, err, "read audit file")
				var out []map[string]string
				for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
					var m map[string]any
					testenv.Must(t, json.Unmarshal([]byte(l), &m), "audit line")
					out = append(out, map[string]string{"action": m["action"].(string), "tenant": m["tenant"].(string),
						"target": m["target"].(string), "actor": m["actor"].(string)})
				}
				return out
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			keys := func(args ...string) (string, string, error) {
				return run(t, append(append([]string{"keys"}, args...), c.args...)...)
			}
			key, stderr, err := keys("create", "--tenant", "acme", "--role", "ingest", "--name", "checkout", "--expires", "90d")
			testenv.Must(t, err, "create")
			key = strings.TrimSpace(key)
			if auth.ParseKey(key) != nil || !strings.Contains(stderr, "not shown again") {
				t.Fatalf("create printed %q, stderr %q", key, stderr)
			}
			id := auth.IDOf(auth.Hash(key))

			ring, err := auth.NewKeyring(ctx, c.store, auth.Config{RefreshInterval: 100 * time.Millisecond}, nil, nil)
			testenv.Must(t, err, "keyring")
			defer ring.Close()
			p, err := ring.Verify(ctx, key)
			testenv.Must(t, err, "verify")
			if p.Tenant != "acme" || p.Role != auth.RoleIngest || p.KeyID != id || p.Name != "checkout" {
				t.Fatalf("principal %+v", p)
			}

			list, _, err := keys("list")
			testenv.Must(t, err, "list")
			if !strings.Contains(list, id) || !strings.Contains(list, "checkout") || !strings.Contains(list, "active") ||
				strings.Contains(list, key) || strings.Contains(list, auth.Hash(key)) {
				t.Fatalf("list:\n%s", list)
			}

			out, _, err := keys("revoke", id)
			testenv.Must(t, err, "revoke")
			if !strings.Contains(out, "revoked key "+id) {
				t.Fatalf("revoke printed %q", out)
			}
			deadline := time.Now().Add(2 * time.Second)
			for _, err = ring.Verify(ctx, key); !errors.Is(err, auth.ErrRevoked); _, err = ring.Verify(ctx, key) {
				if time.Now().After(deadline) {
					t.Fatalf("revoked key still verifies after 2s (refresh 100ms): %v", err)
				}
				time.Sleep(20 * time.Millisecond)
			}
			list, _, err = keys("list", "--json")
			testenv.Must(t, err, "list --json")
			var v map[string]any
			testenv.Must(t, json.Unmarshal([]byte(strings.Split(list, "\n")[0]), &v), "list json")
			if v["state"] != "revoked" || v["revoked_at"] == nil || v["hash"] != nil {
				t.Fatalf("list --json: %s", list)
			}

			got := c.audit(t)
			if len(got) != 2 || got[0]["action"] != chsink.AuditKeyCreate || got[1]["action"] != chsink.AuditKeyRevoke ||
				got[0]["target"] != id || got[1]["target"] != id || got[0]["tenant"] != "acme" || !strings.HasPrefix(got[0]["actor"], "cli:") {
				t.Fatalf("audit rows: %v", got)
			}

			for _, bad := range []struct {
				args []string
				want string
			}{
				{[]string{"create", "--tenant", "*", "--role", "ingest"}, "needs one tenant"},
				{[]string{"create", "--tenant", "acme", "--role", "owner"}, "role must be"},
				{[]string{"create", "--tenant", "acme", "--role", "read", "--expires", "2001-01-01"}, "not in the future"},
				{[]string{"create", "--tenant", "acme", "--role", "read", "--expires", "soon"}, "cannot read --expires"},
				{[]string{"create", "--role", "read"}, "required flag"},
				{[]string{"revoke", "000000000000"}, "no such key"},
			} {
				if _, _, err := keys(bad.args...); err == nil || !strings.Contains(err.Error(), bad.want) {
					t.Errorf("keys %v: %v, want %q", bad.args, err, bad.want)
				}
			}
			if got := c.audit(t); len(got) != 2 {
				t.Fatalf("refused commands were audited: %v", got)
			}
		})
	}
	st, err := os.Stat(file)
	testenv.Must(t, err, "stat")
	b, _ := os.ReadFile(file)
	if st.Mode().Perm() != 0o600 || strings.Contains(string(b), "slk_") {
		t.Fatalf("keys file %v holds:\n%s", st.Mode(), b)
	}
}
