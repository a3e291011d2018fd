package clickhouse

import (
	"fmt"
	"time"
)

// Statement is one SQL statement the package can build, with arguments
// that run against an empty, migrated database (for the golden SQL test).
type Statement struct {
	Name string
	SQL  string
	Args []any
}

// statements lists every statement the package builds: the fixed ones and
// each filter combination of the builders. A new query goes here, or the
// test below fails on its golden file.
func Statements() ([]Statement, error) {
	now := time.Unix(1_760_000_000, 0).UTC()
	rg := Range{Since: now.Add(-time.Hour), Until: now, Limit: 10}
	var errs []error
	build := func(name string, q string, args []any, err error) Statement {
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
		return Statement{name, q, args}
	}
	var out []Statement
	add := func(s ...Statement) { out = append(out, s...) }
	q, a, err := SignalFilter{Range: rg}.sql()
	add(build("read_signals", q, a, err))
	q, a, err = SignalFilter{Range: rg, Tenant: "t"}.sql()
	add(build("read_signals_tenant", q, a, err))
	q, a, err = SignalFilter{Range: rg, FlaggedOnly: true, WindowSeconds: 60, Eq: []Eq{{"app", "a"}, {"grp", "g"}, {"metric", "rate"},
		{"model", "m"}, {"signal", "toxicity"}, {"tenant", "t"}, {"variant", "v"}}}.sql()
	add(build("read_signals_filtered", q, a, err))
	q, a, err = AlertFilter{Range: rg}.sql()
	add(build("read_alerts", q, a, err))
	q, a, err = AlertFilter{Range: rg, Tenant: "t"}.sql()
	add(build("read_alerts_tenant", q, a, err))
	q, a, err = AlertFilter{Range: rg, Eq: []Eq{{"app", "a"}, {"kind", "state"}, {"model", "m"}, {"rule", "r"}, {"severity", "critical"},
		{"state", "firing"}, {"tenant", "t"}}}.sql()
	add(build("read_alerts_filtered", q, a, err))
	q, a, err = SummaryFilter{Range: rg}.sql()
	add(build("read_summary", q, a, err))
	q, a, err = SummaryFilter{Range: rg, Tenant: "t"}.sql()
	add(build("read_summary_tenant", q, a, err))
	q, a, err = SummaryFilter{Range: rg, Eq: []Eq{{"app", "a"}, {"model", "m"}, {"tenant", "t"}}}.sql()
	add(build("read_summary_filtered", q, a, err))
	add(Statement{"read_jobs", jobsQuery, []any{uint64(10)}},
		Statement{"reconcile_windows", reconcileWindows, []any{uint32(60), now, now, uint32(60), uint32(60), now, now}},
		Statement{"windows_between", windowsBetweenQuery, []any{"t", "a", "m", "v", uint32(60), now, now}},
		Statement{"window_variants", windowVariantsQuery, []any{"t", "a", "m", uint32(60), now}},
		Statement{"pin_windows", pinWindowsQuery, []any{uint32(60), now, now}},
		Statement{"load_baseline", loadBaselineQuery, []any{"n", "t", "a", "m", "v"}},
		Statement{"events_per_app", eventsPerAppQuery, nil},
		Statement{"event_totals", eventTotalsQuery, nil},
		Statement{"signal_windows", signalWindowsQuery, nil},
		Statement{"app_rates", appRatesQuery, nil},
		Statement{"findings", findingsQuery, nil},
		Statement{"alert_scope_columns", alertScopeColumnsQuery, nil},
		Statement{"alert_scope", alertScopeQuery, []any{"id"}},
		Statement{"alert_scope_firing", alertScopeFiringQuery, []any{"id"}},
		Statement{"incident_scope", incidentScopeQuery, []any{"id", "id"}},
		Statement{"incident_scope_firing", incidentScopeFiringQuery, []any{"id", "id"}},
		Statement{"prior_verdicts", priorVerdictsQuery, []any{"job"}},
		Statement{"applied_migrations", appliedMigrationsQuery, nil},
		Statement{"column_exists", columnExistsQuery, []any{"llm_events", "event_id"}},
		Statement{"server_version", serverVersionQuery, nil},
		Statement{"list_keys", listKeysQuery, []any{uint64(10)}},
		Statement{"get_key", getKeyQuery, []any{"0123456789ab"}},
	)
	q, a, err = AuditFilter{Range: rg}.sql()
	add(build("read_audit", q, a, err))
	q, a, err = AuditFilter{Range: rg, Tenant: "t", Eq: []Eq{{"action", "read_content"}, {"actor", "k"}, {"outcome", "ok"},
		{"target", "e"}, {"tenant", "t"}}}.sql()
	add(build("read_audit_filtered", q, a, err))
	for _, exact := range []bool{false, true} {
		s := Scope{Tenant: "t", App: "a", From: now.Add(-time.Hour), To: now, Exact: exact}
		suffix := map[bool]string{false: "", true: "_exact"}[exact]
		q, a := judgePageSQL(s, false, 0, "", 10)
		add(Statement{"judge_page" + suffix, q, a})
		q, a = judgePageSQL(s, true, now.Unix(), "e", 10)
		add(Statement{"judge_page_after" + suffix, q, a})
		w, a := s.where()
		add(Statement{"count_events" + suffix, countEventsSQL(w), a})
	}
	for _, ins := range []struct{ name, sql string }{
		{"insert_events", EventsTable(registrySchema()).InsertSQL()}, {"insert_feedback", insertFeedback}, {"insert_signals", insertSignals},
		{"insert_windows", insertWindows}, {"insert_baselines", insertBaselines},
		{"insert_evaluations", EvaluationsTable.InsertSQL()}, {"insert_eval_runs", EvalRunsTable.InsertSQL()},
		{"insert_schema_migrations", recordMigrationInsert},
		{"insert_api_keys", KeysTable.InsertSQL()}, {"insert_audit", AuditTable.InsertSQL()},
	} {
		add(Statement{Name: ins.name, SQL: ins.sql})
	}
	add(lifecycleStatements(now)...)
	if len(errs) > 0 {
		return nil, errs[0]
	}
	return out, nil
}
