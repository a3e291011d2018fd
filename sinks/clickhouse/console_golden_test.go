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

var (
	updateConsole   = flag.Bool("update-console", false, "rewrite the golden SQL files in testdata/console")
	consoleFileName = regexp.MustCompile(`^[a-z0-9_]+$`)
)

// consoleStatements lists every statement shape the Console's builders
// produce, each with every optional condition set (name) and, where a
// builder has optional conditions, with none (name + "_bare"). Builders
// only ever add conditions the full form carries, in the same order
// (internal/console's FuzzParams checks that for the calls explorer), so
// running these runs every statement there is.
func consoleStatements() []clickhouse.ConsoleStmt {
	now := time.Unix(1_760_000_000, 0).UTC()
	bare := clickhouse.ConsoleScope{From: now.Add(-time.Hour), To: now}
	full := clickhouse.ConsoleScope{Tenant: "t", App: "a", Model: "m", Variant: "v", From: bare.From, To: bare.To}
	var out []clickhouse.ConsoleStmt
	add := func(suffix string, st clickhouse.ConsoleStmt) {
		st.Name += suffix
		out = append(out, st)
	}
	both := func(mk func(s clickhouse.ConsoleScope) clickhouse.ConsoleStmt) {
		add("", mk(full))
		add("_bare", mk(bare))
	}
	both(func(s clickhouse.ConsoleScope) clickhouse.ConsoleStmt { return clickhouse.SignalKeyWindowsStmt(s) })
	add("", clickhouse.OverviewCallsStmt(full, "prod", 300))
	add("_bare", clickhouse.OverviewCallsStmt(bare, "", 300))
	both(func(s clickhouse.ConsoleScope) clickhouse.ConsoleStmt { return clickhouse.FlaggedSignalsStmt(s, 50) })
	for _, firing := range []bool{false, true} {
		both(func(s clickhouse.ConsoleScope) clickhouse.ConsoleStmt {
			return clickhouse.AlertSeriesStmt(s, firing, 100)
		})
	}
	for _, actions := range []bool{false, true} {
		add("", clickhouse.AlertEventsStmt(full, actions, "r", 12345, 100))
		add("_bare", clickhouse.AlertEventsStmt(bare, actions, "", 0, 100))
	}
	add("", clickhouse.JobAttemptsStmt(full, 12345, 100))
	add("_bare", clickhouse.JobAttemptsStmt(bare, 0, 100))
	both(func(s clickhouse.ConsoleScope) clickhouse.ConsoleStmt { return clickhouse.EvalRunsStmt(s, 100) })
	for _, v := range []clickhouse.ConsoleView{clickhouse.ViewRates, clickhouse.ViewQuantiles, clickhouse.ViewDrift, clickhouse.ViewBias, clickhouse.ViewBiasSummary, clickhouse.ViewAB} {
		add("", clickhouse.KeySignalsStmt(full, 60, v, now.Add(-time.Minute), 1000))
		add("_range", clickhouse.KeySignalsStmt(full, 60, v, time.Time{}, 1000))
	}
	add("", clickhouse.LiveStampStmt(""))
	add("", clickhouse.LiveStampStmt("t"))
	add("", clickhouse.AlertThresholdsStmt("t", "a", "m", "v"))
	for _, s := range clickhouse.CallSorts() {
		for _, asc := range []bool{false, true} {
			add("", clickhouse.ListCallsStmt(fullCallQuery(s, asc)))
			add("_bare", clickhouse.ListCallsStmt(clickhouse.CallQuery{Scope: bare, Sort: s, Ascending: asc, Limit: 50}))
			add("", clickhouse.CallBoundStmt(fullCallQuery(s, asc)))
			add("_bare", clickhouse.CallBoundStmt(clickhouse.CallQuery{Scope: bare, Sort: s, Ascending: asc, Limit: 50}))
		}
	}
	// The variant condition has two forms (a variant, or a template
	// version standing in for one).
	tq := fullCallQuery(clickhouse.SortTime, false)
	tq.Scope.Variant, tq.PII = "template:v3", "any"
	add("_template_key", clickhouse.ListCallsStmt(tq))
	add("", clickhouse.GetCallStmt("t", "a", "id"))
	add("", clickhouse.GetCallStmt("", "", "id"))
	add("", clickhouse.GetCallStmt("t", "", "id"))
	add("", clickhouse.ConversationCallsStmt("t", "a", "c", now, 100))
	add("", clickhouse.CallFeedbackStmt("t", "id", 100))
	add("", clickhouse.CallVerdictsStmt("t", "id", 20))
	add("", clickhouse.SyntheticEventsStmt(100, now.Add(-time.Hour), now))
	for _, st := range clickhouse.SyntheticSignalsStmts(40, 60, now.Add(-time.Hour)) {
		add("", st)
	}
	for _, st := range clickhouse.SyntheticAlertsStmts(now, 60) {
		add("", st)
	}
	return out
}

// fullCallQuery is a calls explorer query with every condition set.
func fullCallQuery(s clickhouse.CallSort, asc bool) clickhouse.CallQuery {
	now := time.Unix(1_760_000_000, 0).UTC()
	f := func(v float64) *float64 { return &v }
	return clickhouse.CallQuery{
		Scope:       clickhouse.ConsoleScope{Tenant: "t", App: "a", Model: "m", Variant: "v", From: now.Add(-time.Hour), To: now},
		Environment: "prod", MinToxicity: f(0.5), MinHallucination: f(0.5), MinInjection: f(0.5), Refusal: true, Error: true,
		PII: "email", Template: "tpl", TemplateVersion: "3", User: "u", Conversation: "c", SegmentKey: "user.locale",
		SegmentValue: "hi-IN", Sort: s, Ascending: asc, After: &clickhouse.CallCursor{Value: 1.5, EventID: "e"}, Limit: 50, Bound: f(0.5),
	}
}

// TestConsoleGoldenSQL: the Console's statements are checked into
// testdata/console (a review sees any change) and run against the real
// ClickHouse.
func TestConsoleGoldenSQL(t *testing.T) {
	conn, _ := testenv.Database(t)
	dir := filepath.Join("testdata", "console")
	seen := map[string]bool{}
	for _, st := range consoleStatements() {
		if !consoleFileName.MatchString(st.Name) || seen[st.Name] {
			t.Fatalf("bad or duplicate statement name %q", st.Name)
		}
		seen[st.Name] = true
		path := filepath.Join(dir, st.Name+".sql")
		text := strings.TrimSpace(st.SQL) + "\n"
		if *updateConsole {
			testenv.Must(t, os.MkdirAll(dir, 0o755), "mkdir")
			testenv.Must(t, os.WriteFile(path, []byte(text), 0o644), "write golden")
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%s: no golden file (run go test ./sinks/clickhouse -run TestConsoleGoldenSQL -update-console): %v", st.Name, err)
			continue
		}
		if string(want) != text {
			t.Errorf("%s: SQL differs from %s (rerun with -update and review the diff):\n%s", st.Name, path, text)
		}
		if n := strings.Count(st.SQL, "?"); n != len(st.Args) {
			t.Errorf("%s: %d placeholders, %d arguments", st.Name, n, len(st.Args))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if strings.HasPrefix(st.SQL, "INSERT") {
			if err := conn.Exec(ctx, st.SQL, st.Args...); err != nil {
				t.Errorf("%s: %v", st.Name, err)
			}
			cancel()
			continue
		}
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
		cancel()
	}
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
