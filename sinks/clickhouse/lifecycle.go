package clickhouse

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// The SQL of personal data's lifecycle (internal/lifecycle runs it):
// retention per tenant, and one user's rows found, exported and deleted.
//
// ClickHouse 18.16 has no TTL. Retention drops a monthly partition when
// every row in it has expired and deletes the rest with a mutation
// (ALTER TABLE ... DELETE WHERE, which 18.16 has). A mutation rewrites only
// the parts that hold a matching row (18.16 hard-links the others), so its
// cost is the expiring month's parts. Table and column names come from the
// fixed lists below, never from a request; every value is bound.

// RetentionTable is a table retention applies to: tenant rows partitioned
// by toYYYYMM(TimeColumn).
type RetentionTable struct {
	Name       string
	TimeColumn string
}

// RetentionTables hold one row per call, or what derives from single
// calls: events, feedback, re-evaluation verdicts (by the judged call's
// time), window partials (their bottom-k samples hold single calls' values
// and prompt embeddings), and alert and job history. Aggregates without
// per-call data are kept: llm_signals, llm_experiments, llm_eval_runs and
// the named baselines in llm_baselines. llm_audit and llm_api_keys are not
// tenant data to expire.
var RetentionTables = []RetentionTable{
	{"llm_events", "ts"},
	{"llm_feedback", "ts"},
	{"llm_evaluations", "event_ts"},
	{"llm_windows", "window_start"},
	{"llm_alerts", "ts"},
	{"llm_jobs", "ts"},
}

// TenantCutoff says that Tenant's rows older than Before expire; a zero
// Before keeps them.
type TenantCutoff struct {
	Tenant string
	Before time.Time
}

// Cutoffs are the retention of every tenant: the listed ones, and Default
// for the others (zero: kept).
type Cutoffs struct {
	Tenants []TenantCutoff
	Default time.Time
}

// Before returns the cutoff of tenant (zero: kept).
func (c Cutoffs) Before(tenant string) time.Time {
	for _, t := range c.Tenants {
		if t.Tenant == tenant {
			return t.Before
		}
	}
	return c.Default
}

// where is the condition of the expired rows; ok is false when no row can
// expire. Times bind as Unix seconds (see read.go).
func (c Cutoffs) where(timeColumn string) (cond string, args []any, ok bool) {
	var or, marks []string
	var names []any
	for _, t := range c.Tenants {
		marks, names = append(marks, "?"), append(names, t.Tenant)
		if !t.Before.IsZero() {
			or = append(or, "(tenant = ? AND "+timeColumn+" < toDateTime(?))")
			args = append(args, t.Tenant, t.Before.Unix())
		}
	}
	switch {
	case c.Default.IsZero():
	case len(names) == 0:
		or = append(or, "("+timeColumn+" < toDateTime(?))")
		args = append(args, c.Default.Unix())
	default:
		or = append(or, "(tenant NOT IN ("+strings.Join(marks, ", ")+") AND "+timeColumn+" < toDateTime(?))")
		args = append(append(args, names...), c.Default.Unix())
	}
	if len(or) == 0 {
		return "", nil, false
	}
	return strings.Join(or, " OR "), args, true
}

func expiredCountSQL(t RetentionTable, c Cutoffs) (string, []any, bool) {
	w, args, ok := c.where(t.TimeColumn)
	return "SELECT count() FROM " + t.Name + " WHERE " + w, args, ok
}

func expiredDeleteSQL(t RetentionTable, c Cutoffs) (string, []any, bool) {
	w, args, ok := c.where(t.TimeColumn)
	return "ALTER TABLE " + t.Name + " DELETE WHERE " + w, args, ok
}

// CountExpired counts the rows of t that the cutoffs expire.
func CountExpired(ctx context.Context, conn driver.Conn, t RetentionTable, c Cutoffs) (uint64, error) {
	q, args, ok := expiredCountSQL(t, c)
	if !ok {
		return 0, nil
	}
	var n uint64
	if err := conn.QueryRow(ctx, q, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("cannot count expired rows of %s: %w", t.Name, err)
	}
	return n, nil
}

// DeleteExpired starts the mutation that deletes the expired rows of t
// (asynchronous: see PendingMutations).
func DeleteExpired(ctx context.Context, conn driver.Conn, t RetentionTable, c Cutoffs) error {
	q, args, ok := expiredDeleteSQL(t, c)
	if !ok {
		return nil
	}
	if err := conn.Exec(ctx, q, args...); err != nil {
		return fmt.Errorf("cannot delete expired rows of %s: %w", t.Name, err)
	}
	return nil
}

// PartitionTenant is one tenant's rows in one monthly partition.
type PartitionTenant struct {
	Partition string // the partition id, e.g. "202401"
	Tenant    string
	Rows      uint64
	Newest    time.Time
}

func partitionTenantsSQL(t RetentionTable) string {
	return `SELECT toString(toYYYYMM(` + t.TimeColumn + `)) AS partition, tenant, count() AS rows, max(` + t.TimeColumn + `) AS newest
FROM ` + t.Name + `
WHERE toYYYYMM(` + t.TimeColumn + `) <= toYYYYMM(toDateTime(?))
GROUP BY partition, tenant
ORDER BY partition, tenant`
}

// PartitionTenants lists each tenant's rows and newest time in the
// partitions of t up to the month of through (in the server's time zone,
// as the partitions are), reading only those partitions.
func PartitionTenants(ctx context.Context, conn driver.Conn, t RetentionTable, through time.Time) ([]PartitionTenant, error) {
	rows, err := conn.Query(ctx, partitionTenantsSQL(t), through.Unix())
	if err != nil {
		return nil, fmt.Errorf("cannot read the partitions of %s: %w", t.Name, err)
	}
	defer rows.Close()
	var out []PartitionTenant
	for rows.Next() {
		var p PartitionTenant
		if err := rows.Scan(&p.Partition, &p.Tenant, &p.Rows, &p.Newest); err != nil {
			return nil, fmt.Errorf("cannot read the partitions of %s: %w", t.Name, err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot read the partitions of %s: %w", t.Name, err)
	}
	return out, nil
}

func dropPartitionSQL(table string) string { return "ALTER TABLE " + table + " DROP PARTITION ID ?" }

// DropPartition drops the partition with the given id (synchronous).
func DropPartition(ctx context.Context, conn driver.Conn, table, id string) error {
	if err := conn.Exec(ctx, dropPartitionSQL(table), id); err != nil {
		return fmt.Errorf("cannot drop partition %s of %s: %w", id, table, err)
	}
	return nil
}

const partitionKeyQuery = "SELECT partition_key FROM system.tables WHERE database = currentDatabase() AND name = ?"

// PartitionKey returns the partitioning expression of table ("" when the
// table is not partitioned or does not exist).
func PartitionKey(ctx context.Context, conn driver.Conn, table string) (string, error) {
	rows, err := conn.Query(ctx, partitionKeyQuery, table)
	if err != nil {
		return "", fmt.Errorf("cannot read the partition key of %s: %w", table, err)
	}
	defer rows.Close()
	var key string
	for rows.Next() {
		if err := rows.Scan(&key); err != nil {
			return "", fmt.Errorf("cannot read the partition key of %s: %w", table, err)
		}
	}
	return key, rows.Err()
}

// MonthlyPartitionKey is the partition key RetentionTables rely on to drop
// whole partitions.
func (t RetentionTable) MonthlyPartitionKey() string { return "toYYYYMM(" + t.TimeColumn + ")" }

const pendingMutationsQuery = `SELECT count() FROM system.mutations
WHERE database = currentDatabase() AND table = ? AND is_done = 0 AND position(command, ?) > 0`

// PendingMutations counts the unfinished mutations of table whose command
// contains the given text ("" for all of them).
func PendingMutations(ctx context.Context, conn driver.Conn, table, containing string) (uint64, error) {
	var n uint64
	if err := conn.QueryRow(ctx, pendingMutationsQuery, table, containing).Scan(&n); err != nil {
		return 0, fmt.Errorf("cannot read system.mutations: %w", err)
	}
	return n, nil
}

// UserTable is a table holding a user's rows: llm_events by user_id, the
// others by the event ids of the user's calls in EventColumn. These are
// every table with per-user rows: alerts, jobs, signals, windows and
// experiments describe many users' calls at once (a window's bottom-k
// sample may hold one of the user's calls among k; it expires with
// retention), llm_audit names users only by a hash.
type UserTable struct {
	Name        string
	EventColumn string
	// OrderBy orders an export.
	OrderBy string
}

// UserTables are the tables forget deletes from and export reads.
var UserTables = []UserTable{
	{"llm_events", "event_id", "ts, ts_us, event_id"},
	{"llm_feedback", "target_event_id", "ts, event_id"},
	{"llm_evaluations", "event_id", "event_ts, event_id, job_id"},
}

// userWhere selects the user's rows of t by user id (reads only).
func userWhere(t UserTable) string {
	if t.Name == "llm_events" {
		return "tenant = ? AND user_id = ?"
	}
	return "tenant = ? AND " + t.EventColumn + " IN (SELECT event_id FROM llm_events WHERE tenant = ? AND user_id = ?)"
}

func userArgs(t UserTable, tenant, userID string) []any {
	if t.Name == "llm_events" {
		return []any{tenant, userID}
	}
	return []any{tenant, tenant, userID}
}

// forgetWhere selects the rows of t whose event ids a forget request
// snapshotted in llm_forget: what its mutations delete.
func forgetWhere(t UserTable) string {
	return "tenant = ? AND " + t.EventColumn + " IN (SELECT event_id FROM llm_forget WHERE request_id = ?)"
}

func userCountSQL(t UserTable) string {
	return "SELECT count() FROM " + t.Name + " WHERE " + userWhere(t)
}

func userExportCountSQL(t UserTable) string {
	return "SELECT count() FROM " + t.Name + " FINAL WHERE " + userWhere(t)
}

func userExportSQL(t UserTable) string {
	return "SELECT * FROM " + t.Name + " FINAL WHERE " + userWhere(t) + " ORDER BY " + t.OrderBy
}

func forgetCountSQL(t UserTable) string {
	return "SELECT count() FROM " + t.Name + " WHERE " + forgetWhere(t)
}

func forgetDeleteSQL(t UserTable) string {
	return "ALTER TABLE " + t.Name + " DELETE WHERE " + forgetWhere(t)
}

// CountUserRows counts the rows of the user in t (every stored copy: a
// replayed event not yet merged away counts twice); exported counts the
// rows an export writes instead (FINAL: each once).
func CountUserRows(ctx context.Context, conn driver.Conn, t UserTable, tenant, userID string, exported bool) (uint64, error) {
	q := userCountSQL(t)
	if exported {
		q = userExportCountSQL(t)
	}
	var n uint64
	if err := conn.QueryRow(ctx, q, userArgs(t, tenant, userID)...).Scan(&n); err != nil {
		return 0, fmt.Errorf("cannot count the user's rows in %s: %w", t.Name, err)
	}
	return n, nil
}

const userEventIDsQuery = "SELECT DISTINCT event_id FROM llm_events WHERE tenant = ? AND user_id = ?"

type forgetRow struct {
	RequestID, Tenant, EventID string
	CreatedAt                  time.Time
}

// ForgetSnapshot is the insert of llm_forget.
var forgetSnapshot = NewTable("llm_forget",
	Col("request_id", func(r *forgetRow) any { return r.RequestID }),
	Col("tenant", func(r *forgetRow) any { return r.Tenant }),
	Col("event_id", func(r *forgetRow) any { return r.EventID }),
	Col("created_at", func(r *forgetRow) any { return r.CreatedAt.UTC().Truncate(time.Second) }),
)

// SnapshotUserEvents writes the ids of the user's calls into llm_forget
// under requestID and returns how many there were. The ids pass through
// this process so that no statement the server keeps names the user.
func SnapshotUserEvents(ctx context.Context, conn driver.Conn, requestID, tenant, userID string) (int, error) {
	rows, err := conn.Query(ctx, userEventIDsQuery, tenant, userID)
	if err != nil {
		return 0, fmt.Errorf("cannot read the user's event ids: %w", err)
	}
	defer rows.Close()
	now := time.Now()
	var batch []forgetRow
	total := 0
	flush := func() error {
		err := forgetSnapshot.Insert(ctx, conn, batch)
		total += len(batch)
		batch = batch[:0]
		return err
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return total, fmt.Errorf("cannot read the user's event ids: %w", err)
		}
		batch = append(batch, forgetRow{RequestID: requestID, Tenant: tenant, EventID: id, CreatedAt: now})
		if len(batch) == 50_000 {
			if err := flush(); err != nil {
				return total, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return total, fmt.Errorf("cannot read the user's event ids: %w", err)
	}
	return total + len(batch), flush()
}

// CountForgetRows counts the rows of t that requestID's snapshot selects.
func CountForgetRows(ctx context.Context, conn driver.Conn, t UserTable, tenant, requestID string) (uint64, error) {
	var n uint64
	if err := conn.QueryRow(ctx, forgetCountSQL(t), tenant, requestID).Scan(&n); err != nil {
		return 0, fmt.Errorf("cannot count the rows to forget in %s: %w", t.Name, err)
	}
	return n, nil
}

// DeleteForgetRows starts the mutation deleting the rows of t that
// requestID's snapshot selects; its command names the request id, which
// PendingMutations finds it by.
func DeleteForgetRows(ctx context.Context, conn driver.Conn, t UserTable, tenant, requestID string) error {
	if err := conn.Exec(ctx, forgetDeleteSQL(t), tenant, requestID); err != nil {
		return fmt.Errorf("cannot delete the user's rows from %s: %w", t.Name, err)
	}
	return nil
}

const dropForgetSQL = "ALTER TABLE llm_forget DROP PARTITION ?"

// DropForgetSnapshot removes requestID's snapshot.
func DropForgetSnapshot(ctx context.Context, conn driver.Conn, requestID string) error {
	if err := conn.Exec(ctx, dropForgetSQL, requestID); err != nil {
		return fmt.Errorf("cannot drop forget snapshot %s: %w", requestID, err)
	}
	return nil
}

const staleForgetQuery = "SELECT request_id FROM llm_forget GROUP BY request_id HAVING max(created_at) < toDateTime(?) ORDER BY request_id"

// StaleForgetSnapshots lists the snapshots written before the given time
// (left by a forget that stopped midway).
func StaleForgetSnapshots(ctx context.Context, conn driver.Conn, before time.Time) ([]string, error) {
	rows, err := conn.Query(ctx, staleForgetQuery, before.Unix())
	if err != nil {
		return nil, fmt.Errorf("cannot read llm_forget: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("cannot read llm_forget: %w", err)
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// ExportUserRows calls fn with every row of the user in t, each once
// (FINAL), with its column names, in export order. Values are what the
// driver scans each column into (string, time.Time, []string, *float32
// for Nullable(Float32), ...).
func ExportUserRows(ctx context.Context, conn driver.Conn, t UserTable, tenant, userID string, fn func(cols []string, vals []any) error) error {
	rows, err := conn.Query(ctx, userExportSQL(t), userArgs(t, tenant, userID)...)
	if err != nil {
		return fmt.Errorf("cannot read the user's rows from %s: %w", t.Name, err)
	}
	defer rows.Close()
	cols := rows.Columns()
	types := rows.ColumnTypes()
	ptrs := make([]any, len(types))
	vals := make([]any, len(types))
	for rows.Next() {
		for i, ct := range types {
			ptrs[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("cannot read the user's rows from %s: %w", t.Name, err)
		}
		for i, p := range ptrs {
			vals[i] = reflect.ValueOf(p).Elem().Interface()
		}
		if err := fn(cols, vals); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("cannot read the user's rows from %s: %w", t.Name, err)
	}
	return nil
}
