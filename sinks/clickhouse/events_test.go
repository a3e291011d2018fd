package clickhouse_test

import (
	"context"
	"testing"

	"github.com/sightline-dev/sightline/internal/testenv"
	"github.com/sightline-dev/sightline/processors/detectors"
	"github.com/sightline-dev/sightline/processors/detectors/registry"
)

// defaultScores are unset scores of the default detectors.
func defaultScores(tb testing.TB) detectors.Scores {
	s, err := registry.Schema(nil)
	testenv.Must(tb, err, "default schema")
	return detectors.NewScores(s)
}

// Every output a detector declares has its llm_events column, of the type
// its kind needs, after the migrations: a detector added without its
// migration fails here instead of its scores being dropped.
func TestEveryDetectorOutputHasItsColumn(t *testing.T) {
	conn, _ := testenv.Database(t)
	ctx := context.Background()
	rows, err := conn.Query(ctx, "SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = 'llm_events'")
	testenv.Must(t, err, "read llm_events columns")
	cols := map[string]string{}
	for rows.Next() {
		var name, typ string
		testenv.Must(t, rows.Scan(&name, &typ), "scan")
		cols[name] = typ
	}
	rows.Close()
	outs := registry.Outputs(nil)
	if len(outs) == 0 {
		t.Fatal("no detector outputs")
	}
	for _, o := range outs {
		typ, ok := cols[o.Name]
		switch {
		case !ok:
			t.Errorf("detector output %s (%s) has no llm_events column: add a migration with ALTER TABLE llm_events ADD COLUMN %s %s",
				o.Name, o.Kind, o.Name, o.Kind.ColumnType())
		case typ != o.Kind.ColumnType():
			t.Errorf("llm_events.%s is %s, a %s output needs %s", o.Name, typ, o.Kind, o.Kind.ColumnType())
		}
	}
}
