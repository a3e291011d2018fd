package clickhouse_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sightline-dev/sightline/internal/testenv"
	"github.com/sightline-dev/sightline/sinks/clickhouse"
)

var update = flag.Bool("update", false, "rewrite the golden SQL files in testdata/sql")

var fileName = regexp.MustCompile(`^[a-z0-9_]+$`)

// TestGoldenSQL: every statement the package builds is checked into
// testdata/sql (so a review sees any change to the SQL), and runs against
// the real ClickHouse: SELECTs are executed, INSERTs prepared (the server
// checks the explicit column list against the table).
func TestGoldenSQL(t *testing.T) {
	conn, _ := testenv.Database(t)
	dir := filepath.Join("testdata", "sql")
	seen := map[string]bool{}
	stmts, err := clickhouse.Statements()
	testenv.Must(t, err, "statements")
	for _, st := range stmts {
		if !fileName.MatchString(st.Name) || seen[st.Name] {
			t.Fatalf("bad or duplicate statement name %q", st.Name)
		}
		seen[st.Name] = true
		path := filepath.Join(dir, st.Name+".sql")
		text := strings.TrimSpace(st.SQL) + "\n"
		if *update {
			testenv.Must(t, os.MkdirAll(dir, 0o755), "mkdir")
			testenv.Must(t, os.WriteFile(path, []byte(text), 0o644), "write golden")
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%s: no golden file (run go test ./sinks/clickhouse -run TestGoldenSQL -update): %v", st.Name, err)
			continue
		}
		if string(want) != text {
			t.Errorf("%s: SQL differs from %s (rerun with -update and review the diff):\n%s", st.Name, path, text)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if strings.HasPrefix(st.SQL, "INSERT") {
			b, err := conn.PrepareBatch(ctx, st.SQL)
			if err != nil {
				t.Errorf("%s: %v", st.Name, err)
			} else {
				_ = b.Abort()
			}
		} else if strings.HasPrefix(st.SQL, "ALTER") {
			// Mutations and partition drops answer no rows: executed
			// (on the empty tables, so they delete nothing).
			if err := conn.Exec(ctx, st.SQL, st.Args...); err != nil {
				t.Errorf("%s: %v", st.Name, err)
			}
		} else {
			rows, err := conn.Query(ctx, st.SQL, st.Args...)
			if err != nil {
				t.Errorf("%s: %v", st.Name, err)
			} else {
				for rows.Next() {
				}
				if err := rows.Err(); err != nil {
					t.Errorf("%s: %v", st.Name, err)
				}
				rows.Close()
			}
		}
		cancel()
	}
	// No golden file without a statement: a removed query takes its file.
	ents, _ := os.ReadDir(dir)
	var stale []string
	for _, e := range ents {
		if name := strings.TrimSuffix(e.Name(), ".sql"); !seen[name] {
			stale = append(stale, e.Name())
		}
	}
	sort.Strings(stale)
	if len(stale) > 0 {
		t.Errorf("golden files without a statement: %v", stale)
	}
}
