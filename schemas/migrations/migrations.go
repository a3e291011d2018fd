// Package migrations holds the ClickHouse schema as embedded, numbered SQL
// files. A file NNNN_name.sql holds statements separated by ";" at line
// end; each statement must be idempotent (IF NOT EXISTS), because ClickHouse
// has no transactional DDL and a runner interrupted midway reapplies the
// whole file. A first line "-- requires: MAJOR.MINOR" marks a migration
// that needs at least that server release; older servers skip it until they
// are upgraded.
//
// Base migrations must run on every ClickHouse from 18.16 to current: no
// DateTime64, Map, JSON, LowCardinality or TTL.
//
// The files are written for one server. In cluster mode the runner
// (sinks/clickhouse) turns each statement into its cluster form: a table
// becomes a Replicated*MergeTree table <name>_local ON CLUSTER plus a
// Distributed table under <name>, sharded by the hash of the table's ORDER
// BY key unless the file says otherwise with a line
//
//	-- sharding_key: TABLE EXPRESSION
//
// (an expression of ORDER BY columns only: every copy of a row that
// ReplacingMergeTree collapses must land on one shard, since FINAL works
// per shard).
package migrations

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

//go:embed sql/*.sql
var files embed.FS

// Migration is one numbered schema change.
type Migration struct {
	Version    uint32
	Name       string
	Statements []string
	// Requires is the minimum server release (major, minor); zero for all.
	Requires [2]int
	// ShardingKeys are the "-- sharding_key:" lines: table -> expression.
	ShardingKeys map[string]string
}

// All returns the embedded migrations in version order.
func All() ([]Migration, error) {
	entries, err := fs.ReadDir(files, "sql")
	if err != nil {
		return nil, fmt.Errorf("cannot read embedded migrations: %w", err)
	}
	var out []Migration
	seen := map[uint32]string{}
	for _, e := range entries {
		b, err := files.ReadFile(path.Join("sql", e.Name()))
		if err != nil {
			return nil, fmt.Errorf("cannot read migration %s: %w", e.Name(), err)
		}
		m, err := Parse(e.Name(), string(b))
		if err != nil {
			return nil, err
		}
		if prev, dup := seen[m.Version]; dup {
			return nil, fmt.Errorf("migrations %s and %s share version %d", prev, e.Name(), m.Version)
		}
		seen[m.Version] = e.Name()
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// Parse reads one migration file.
func Parse(name, text string) (Migration, error) {
	base := strings.TrimSuffix(name, ".sql")
	num, rest, ok := strings.Cut(base, "_")
	v, err := strconv.ParseUint(num, 10, 32)
	if !ok || err != nil || v == 0 {
		return Migration{}, fmt.Errorf("migration file %q must be named NNNN_name.sql", name)
	}
	m := Migration{Version: uint32(v), Name: rest}
	if first, _, _ := strings.Cut(text, "\n"); strings.HasPrefix(first, "-- requires:") {
		var major, minor int
		if _, err := fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(first, "-- requires:")), "%d.%d", &major, &minor); err != nil {
			return Migration{}, fmt.Errorf("migration %s: bad requires line: %w", name, err)
		}
		m.Requires = [2]int{major, minor}
	}
	var cur []string
	flush := func() {
		s := strings.TrimSpace(strings.Join(cur, "\n"))
		cur = cur[:0]
		if s != "" {
			m.Statements = append(m.Statements, s)
		}
	}
	for _, line := range strings.Split(text, "\n") {
		t := strings.TrimSpace(line)
		if d, ok := strings.CutPrefix(t, "-- sharding_key:"); ok {
			table, expr, _ := strings.Cut(strings.TrimSpace(d), " ")
			if table == "" || strings.TrimSpace(expr) == "" {
				return Migration{}, fmt.Errorf("migration %s: a sharding_key line needs a table and an expression: %q", name, t)
			}
			if m.ShardingKeys == nil {
				m.ShardingKeys = map[string]string{}
			}
			m.ShardingKeys[table] = strings.TrimSpace(expr)
			continue
		}
		if strings.HasPrefix(t, "--") || t == "" {
			continue
		}
		if strings.HasSuffix(t, ";") {
			cur = append(cur, strings.TrimSuffix(t, ";"))
			flush()
			continue
		}
		cur = append(cur, line)
	}
	flush()
	if len(m.Statements) == 0 {
		return Migration{}, fmt.Errorf("migration %s has no statements", name)
	}
	return m, nil
}

// Supported reports whether a server of the given release can run m.
func (m Migration) Supported(major, minor int) bool {
	if major != m.Requires[0] {
		return major > m.Requires[0]
	}
	return minor >= m.Requires[1]
}
