package clickhouse

import "time"

// lifecycleStatements are this file's statements for the golden SQL test,
// for every table they run on.
func lifecycleStatements(now time.Time) []Statement {
	c := Cutoffs{Tenants: []TenantCutoff{{"acme", now.Add(-90 * 24 * time.Hour)}, {"keep", time.Time{}}}, Default: now.Add(-30 * 24 * time.Hour)}
	var out []Statement
	for _, t := range RetentionTables {
		q, a, _ := expiredCountSQL(t, c)
		out = append(out, Statement{"retention_count_" + t.Name, q, a})
		q, a, _ = expiredDeleteSQL(t, c)
		out = append(out, Statement{"retention_delete_" + t.Name, q, a})
		out = append(out, Statement{"retention_partitions_" + t.Name, partitionTenantsSQL(t), []any{now.Unix()}},
			Statement{"retention_drop_partition_" + t.Name, dropPartitionSQL(t.Name), []any{"190001"}})
	}
	q, a, _ := expiredCountSQL(RetentionTables[0], Cutoffs{Default: now})
	out = append(out, Statement{"retention_count_default_only", q, a})
	for _, t := range UserTables {
		out = append(out,
			Statement{"user_count_" + t.Name, userCountSQL(t), userArgs(t, "t", "u")},
			Statement{"user_export_count_" + t.Name, userExportCountSQL(t), userArgs(t, "t", "u")},
			Statement{"user_export_" + t.Name, userExportSQL(t), userArgs(t, "t", "u")},
			Statement{"forget_count_" + t.Name, forgetCountSQL(t), []any{"t", "r"}},
			Statement{"forget_delete_" + t.Name, forgetDeleteSQL(t), []any{"t", "r"}},
		)
	}
	return append(out,
		Statement{"partition_key", partitionKeyQuery, []any{"llm_events"}},
		Statement{"pending_mutations", pendingMutationsQuery, []any{"llm_events", "r"}},
		Statement{"user_event_ids", userEventIDsQuery, []any{"t", "u"}},
		Statement{Name: "insert_forget", SQL: forgetSnapshot.InsertSQL()},
		Statement{"drop_forget_snapshot", dropForgetSQL, []any{"r"}},
		Statement{"stale_forget_snapshots", staleForgetQuery, []any{now.Unix()}},
	)
}
