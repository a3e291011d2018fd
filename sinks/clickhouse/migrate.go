package clickhouse

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sightline-dev/sightline/schemas/migrations"
)

// MigrationResult says what Migrate did.
type MigrationResult struct {
	Applied []uint32 // versions applied now
	Skipped []uint32 // versions the server is too old for
	Current uint32   // highest applied version
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations
(
    version UInt32,
    name String,
    applied_at DateTime
)
ENGINE = ReplacingMergeTree(applied_at)
ORDER BY version`

const (
	appliedMigrationsQuery = "SELECT version FROM schema_migrations"
	recordMigrationInsert  = "INSERT INTO schema_migrations (version, name, applied_at)"
	columnExistsQuery      = "SELECT count() FROM system.columns WHERE database = currentDatabase() AND table = ? AND name = ?"
)

// Migrate applies the embedded migrations that are not yet recorded in
// schema_migrations, in order. It is safe to run concurrently from several
// processes: every statement is idempotent.
func Migrate(ctx context.Context, conn driver.Conn) (MigrationResult, error) {
	var res MigrationResult
	all, err := migrations.All()
	if err != nil {
		return res, err
	}
	if err := conn.Exec(ctx, createMigrationsTable); err != nil {
		return res, fmt.Errorf("cannot create schema_migrations: %w", err)
	}
	major, minor, err := ServerVersion(ctx, conn)
	if err != nil {
		return res, err
	}
	applied := map[uint32]bool{}
	rows, err := conn.Query(ctx, appliedMigrationsQuery)
	if err != nil {
		return res, fmt.Errorf("cannot read schema_migrations: %w", err)
	}
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return res, fmt.Errorf("cannot read schema_migrations: %w", err)
		}
		applied[v] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return res, fmt.Errorf("cannot read schema_migrations: %w", err)
	}
	for _, m := range all {
		if applied[m.Version] {
			res.Current = m.Version
			continue
		}
		if !m.Supported(major, minor) {
			res.Skipped = append(res.Skipped, m.Version)
			continue
		}
		for i, stmt := range m.Statements {
			if table, col, ok := addColumn(stmt); ok {
				exists, err := columnExists(ctx, conn, table, col)
				if err != nil {
					return res, fmt.Errorf("cannot apply migration %04d_%s (statement %d): %w", m.Version, m.Name, i+1, err)
				}
				if exists {
					continue
				}
			}
			if err := conn.Exec(ctx, stmt); err != nil {
				return res, fmt.Errorf("cannot apply migration %04d_%s (statement %d): %w", m.Version, m.Name, i+1, err)
			}
		}
		if err := record(ctx, conn, m); err != nil {
			return res, fmt.Errorf("cannot record migration %04d_%s: %w", m.Version, m.Name, err)
		}
		res.Applied = append(res.Applied, m.Version)
		res.Current = m.Version
	}
	return res, nil
}

// record inserts the migration's row. A batch insert with a column list is
// what every server release accepts from this driver (a parameterised
// INSERT ... VALUES hangs against 18.16).
func record(ctx context.Context, conn driver.Conn, m migrations.Migration) error {
	b, err := conn.PrepareBatch(ctx, recordMigrationInsert)
	if err != nil {
		return err
	}
	if err := b.Append(m.Version, m.Name, time.Now().UTC()); err != nil {
		_ = b.Abort()
		return err
	}
	return b.Send()
}

var addColumnRE = regexp.MustCompile(`(?is)^ALTER\s+TABLE\s+([A-Za-z0-9_.]+)\s+ADD\s+COLUMN\s+([A-Za-z0-9_]+)\s`)

// addColumn recognises a single-column "ALTER TABLE t ADD COLUMN c ..."
// statement (18.16 lacks ADD COLUMN IF NOT EXISTS, so the runner checks).
func addColumn(stmt string) (table, column string, ok bool) {
	m := addColumnRE.FindStringSubmatch(stmt)
	if m == nil {
		return "", "", false
	}
	return m[1], m[2], true
}

func columnExists(ctx context.Context, conn driver.Conn, table, column string) (bool, error) {
	var n uint64
	err := conn.QueryRow(ctx,
		columnExistsQuery, table, column).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("cannot read system.columns: %w", err)
	}
	return n > 0, nil
}
