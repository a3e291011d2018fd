package clickhouse_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sightline-dev/sightline/sinks/clickhouse"
)

// TestClusterSQLGolden: the cluster form of every migration is checked into
// testdata/cluster (rerun with -update after adding a migration and review
// the diff); internal/clustertest runs it on a real 2x2 cluster.
func TestClusterSQLGolden(t *testing.T) {
	got, err := clickhouse.ClusterSQL("sightline", "sightline", clickhouse.DefaultReplicationPath)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("testdata", "cluster")
	seen := map[string]bool{}
	for name, stmts := range got {
		seen[name+".sql"] = true
		text := strings.Join(stmts, ";\n\n") + ";\n"
		path := filepath.Join(dir, name+".sql")
		if *update {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%s: no golden file (run go test ./sinks/clickhouse -run TestClusterSQLGolden -update): %v", name, err)
			continue
		}
		if string(want) != text {
			t.Errorf("%s: cluster SQL differs from %s (rerun with -update and review the diff):\n%s", name, path, text)
		}
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if !seen[e.Name()] {
			t.Errorf("golden file without a migration: %s", e.Name())
		}
	}
}
