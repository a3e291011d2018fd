package clickhouse

import (
	"context"
	"fmt"
	"regexp"
	"strings"
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
// schema_migrations, in order, to one server. It is safe to run
// concurrently from several processes: every statement is idempotent.
func Migrate(ctx context.Context, conn driver.Conn) (MigrationResult, error) {
	var res MigrationResult
	all, err := migrations.All()
	if err != nil {
		return res, err
	}
	if err := conn.Exec(ctx, createMigrationsTable); err != nil {
		return res, fmt.Errorf("cannot create schema_migrations: %w", err)
	}
	// A database migrated ON CLUSTER has Distributed tables here: applying
	// a migration to this server alone would split the schema.
	if engine, err := tableEngine(ctx, conn, "schema_migrations"); err != nil {
		return res, err
	} else if strings.HasPrefix(engine, "Replicated") {
		return res, fmt.Errorf("cannot migrate one server: this database was migrated ON CLUSTER (schema_migrations is %s); set clickhouse.cluster (sightline migrate --cluster NAME)", engine)
	}
	major, minor, err := ServerVersion(ctx, conn)
	if err != nil {
		return res, err
	}
	applied, err := appliedVersions(ctx, conn)
	if err != nil {
		return res, err
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

// MigrateOn applies the migrations as o says: to one server (Migrate), or
// in their cluster form ON CLUSTER o.Cluster (see cluster.go) through
// conn, a connection to any host of the cluster. In cluster mode it
// first checks that the cluster exists and that every host runs DDL (a
// statement none can run is reported before any table changes), and it
// records a version only once its statements ran on every host, in a
// schema_migrations replicated to every host. Safe to re-run from any
// host.
func MigrateOn(ctx context.Context, conn driver.Conn, o Options) (MigrationResult, error) {
	if o.Cluster == "" {
		return Migrate(ctx, conn)
	}
	var res MigrationResult
	o.setDefaults()
	if err := o.Validate(); err != nil {
		return res, fmt.Errorf("cannot migrate: %w", err)
	}
	all, err := migrations.All()
	if err != nil {
		return res, err
	}
	r := &clusterRunner{conn: conn, o: o}
	if err := r.readHosts(ctx); err != nil {
		return res, err
	}
	// The first statement ON CLUSTER doubles as the check that every host
	// is up and takes DDL from ZooKeeper's queue.
	if err := r.exec(ctx, fmt.Sprintf("CREATE DATABASE IF NOT EXISTS %s ON CLUSTER %s", o.Database, o.Cluster)); err != nil {
		return res, fmt.Errorf("cannot create database %s on every host: %w", o.Database, err)
	}
	if engine, err := tableEngine(ctx, conn, "schema_migrations"); err != nil {
		return res, err
	} else if engine != "" && !strings.HasPrefix(engine, "Replicated") {
		return res, fmt.Errorf("cannot migrate ON CLUSTER %s: database %s was migrated on one server (schema_migrations is %s, its tables are not Distributed); "+
			"use a new clickhouse.database for the cluster and copy the data over (README: ClickHouse cluster)", o.Cluster, o.Database, engine)
	}
	cs := newClusterSchema(o.Database, o.Cluster, o.ReplicationPath)
	if err := r.exec(ctx, cs.migrationsTable()); err != nil {
		return res, fmt.Errorf("cannot create schema_migrations: %w", err)
	}
	major, minor, err := ServerVersion(ctx, conn)
	if err != nil {
		return res, err
	}
	applied, err := appliedVersions(ctx, conn)
	if err != nil {
		return res, err
	}
	for _, m := range all {
		// Rendered even when applied: later migrations alter what earlier
		// ones created.
		steps, err := cs.render(m)
		if err != nil {
			return res, err
		}
		if applied[m.Version] {
			res.Current = m.Version
			continue
		}
		if !m.Supported(major, minor) {
			res.Skipped = append(res.Skipped, m.Version)
			continue
		}
		for i, s := range steps {
			if err := r.run(ctx, cs, s); err != nil {
				return res, fmt.Errorf("cannot apply migration %04d_%s ON CLUSTER %s (step %d: %s): %w", m.Version, m.Name, o.Cluster, i+1, firstLine(s.sql), err)
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

func appliedVersions(ctx context.Context, conn driver.Conn) (map[uint32]bool, error) {
	applied := map[uint32]bool{}
	rows, err := conn.Query(ctx, appliedMigrationsQuery)
	if err != nil {
		return nil, fmt.Errorf("cannot read schema_migrations: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("cannot read schema_migrations: %w", err)
		}
		applied[v] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot read schema_migrations: %w", err)
	}
	return applied, nil
}

// tableEngine is a table's engine in the current database ("" when it
// does not exist).
func tableEngine(ctx context.Context, conn driver.Conn, table string) (string, error) {
	rows, err := conn.Query(ctx, tableEngineQuery, table)
	if err != nil {
		return "", fmt.Errorf("cannot read system.tables: %w", err)
	}
	defer rows.Close()
	var engine string
	if rows.Next() {
		if err := rows.Scan(&engine); err != nil {
			return "", fmt.Errorf("cannot read system.tables: %w", err)
		}
	}
	return engine, rows.Err()
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
