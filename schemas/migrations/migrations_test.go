package migrations

import (
	"strings"
	"testing"
)

func TestAllParseAndAvoidNewTypesInBase(t *testing.T) {
	all, err := All()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) == 0 || all[0].Version != 1 {
		t.Fatalf("want migrations starting at 1, got %d", len(all))
	}
	// Base migrations run on ClickHouse 18.16, which lacks these.
	forbidden := []string{"DateTime64", "Map(", "LowCardinality", " TTL ", "JSON"}
	for _, m := range all {
		if m.Requires != [2]int{} {
			continue
		}
		for _, s := range m.Statements {
			for _, f := range forbidden {
				if strings.Contains(s, f) {
					t.Errorf("migration %d uses %q but has no '-- requires:' line", m.Version, f)
				}
			}
			if strings.HasPrefix(s, "ALTER") && (strings.Count(s, "ADD COLUMN") != 1 || strings.Contains(s, ",\n")) {
				t.Errorf("migration %d: an ALTER must add exactly one column (the runner makes that idempotent): %.60s", m.Version, s)
			}
			if strings.HasPrefix(s, "CREATE") && !strings.Contains(s, "IF NOT EXISTS") {
				t.Errorf("migration %d: statement is not idempotent: %.60s", m.Version, s)
			}
		}
	}
}

func TestParse(t *testing.T) {
	m, err := Parse("0007_feature.sql", "-- requires: 23.8\n-- comment\nALTER TABLE x ADD COLUMN IF NOT EXISTS y String;\nSELECT 1;\n")
	if err != nil {
		t.Fatal(err)
	}
	if m.Version != 7 || m.Name != "feature" || m.Requires != [2]int{23, 8} || len(m.Statements) != 2 {
		t.Fatalf("parsed %+v", m)
	}
	if m.Supported(18, 16) || !m.Supported(23, 8) || !m.Supported(24, 1) {
		t.Fatal("Supported is wrong")
	}
	for _, bad := range []string{"x.sql", "0000_zero.sql", "abc_x.sql"} {
		if _, err := Parse(bad, "SELECT 1;"); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestParseShardingKey(t *testing.T) {
	m, err := Parse("0011_x.sql", "-- why\n-- sharding_key: llm_x cityHash64(tenant, id)\nCREATE TABLE IF NOT EXISTS llm_x (tenant String, id String) ENGINE = MergeTree ORDER BY (tenant, id);\n")
	if err != nil {
		t.Fatal(err)
	}
	if got := m.ShardingKeys["llm_x"]; got != "cityHash64(tenant, id)" || len(m.Statements) != 1 {
		t.Fatalf("sharding keys %v, statements %d", m.ShardingKeys, len(m.Statements))
	}
	if _, err := Parse("0011_x.sql", "-- sharding_key: llm_x\nSELECT 1;\n"); err == nil {
		t.Fatal("a sharding_key line without an expression was accepted")
	}
}
