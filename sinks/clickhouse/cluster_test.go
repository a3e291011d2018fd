package clickhouse

import (
	"sort"
	"strings"
	"testing"

	"github.com/sightline-dev/sightline/schemas/migrations"
)

// Every table of the schema gets a replicated local table and a
// Distributed one sharded by columns of its ORDER BY key.
func TestClusterFormOfEveryTable(t *testing.T) {
	all, err := migrations.All()
	if err != nil {
		t.Fatal(err)
	}
	cs := newClusterSchema("db", "c", DefaultReplicationPath)
	tables := map[string]bool{}
	for _, m := range all {
		steps, err := cs.render(m)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range m.Statements {
			if mt := createTableRE.FindStringSubmatch(s); mt != nil {
				tables[mt[1]] = true
			}
		}
		for _, s := range steps {
			if !strings.Contains(s.sql, " ON CLUSTER c") {
				t.Errorf("migration %d: a step without ON CLUSTER: %s", m.Version, firstLine(s.sql))
			}
		}
	}
	var names []string
	for n := range tables {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if cs.shard[n] == "" {
			t.Errorf("table %s has no sharding key", n)
		}
	}
	for table, want := range map[string]string{
		"llm_events": "cityHash64(event_id)", "llm_signals": "cityHash64(tenant, app, model, variant)",
		"llm_windows": "cityHash64(tenant, app, model, variant)", "llm_experiments": "cityHash64(tenant, app, model)",
		"llm_alerts": "cityHash64(fingerprint)",
	} {
		if got := cs.shard[table]; got != want {
			t.Errorf("%s is sharded by %q, want %q", table, got, want)
		}
	}
}

func TestClusterFormRefuses(t *testing.T) {
	for name, text := range map[string]string{
		"sharding key off the ORDER BY key": "-- sharding_key: t cityHash64(b)\nCREATE TABLE IF NOT EXISTS t (a String, b String) ENGINE = ReplacingMergeTree ORDER BY a;",
		"not a MergeTree":                   "CREATE TABLE IF NOT EXISTS t (a String) ENGINE = Memory;",
		"ALTER of an unknown table":         "ALTER TABLE nope ADD COLUMN x String;",
		"something else":                    "INSERT INTO t SELECT 1;",
	} {
		m, err := migrations.Parse("0099_x.sql", text)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := newClusterSchema("db", "c", DefaultReplicationPath).render(m); err == nil || !strings.Contains(err.Error(), "0099_x") {
			t.Errorf("%s: %v", name, err)
		}
	}
	m, _ := migrations.Parse("0099_x.sql", "CREATE TABLE IF NOT EXISTS t (a String, b String) ENGINE = MergeTree ORDER BY tuple();")
	if _, err := newClusterSchema("db", "c", DefaultReplicationPath).render(m); err != nil {
		t.Errorf("a table without a sort key: %v", err)
	}
}
