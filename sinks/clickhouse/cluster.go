package clickhouse

import (
	"context"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/ClickHouse/clickhouse-go/v2/lib/proto"

	"github.com/sightline-dev/sightline/schemas/migrations"
)

// Cluster mode: the migrations, written for one server, in their cluster
// form.
//
// Every table T of a migration becomes two ON CLUSTER statements: a local
// table T_local on every host, with the engine's Replicated twin (the
// replicas of a shard share one ZooKeeper path, Options.ReplicationPath),
// and a Distributed table T over it, under the name every query and insert
// of this package uses. The Distributed table shards rows by the table's
// "-- sharding_key:" line, else by the hash of its ORDER BY key: all copies
// of a row that ReplacingMergeTree collapses (one event id, one signal key
// and window) land on one shard, which is what makes FINAL, computed per
// shard, exact through the Distributed table.
//
// A view is created on every host over the Distributed tables. An ALTER
// runs on the local tables (ClickHouse applies it to one replica per shard
// and replicates it); the Distributed table and the views over it are then
// dropped and created again, because ClickHouse 18.16 refuses ALTER ON
// CLUSTER on a non-replicated table of a replicated cluster. ADD COLUMN is
// made idempotent by asking every shard which columns it has first (18.16
// has no ADD COLUMN IF NOT EXISTS).
//
// Everything is qualified with the database: ON CLUSTER DDL runs on each
// host without the session's current database.

// step is one ON CLUSTER statement of a migration's cluster form.
type step struct {
	sql string
	// An ALTER ... ADD COLUMN on local table: sql is the statement with
	// every column; the runner drops the columns each shard has.
	local string
	adds  []addedColumn
}

type addedColumn struct{ name, def string }

// clusterSchema turns migrations into their cluster form, remembering what
// the earlier ones created (tables and their sharding keys, views).
type clusterSchema struct {
	db, cluster, path string
	shard             map[string]string // table -> sharding key
	views             map[string]*clusterView
	order             []string // views in creation order
}

type clusterView struct {
	create string // rendered CREATE VIEW
	from   map[string]bool
}

func newClusterSchema(db, cluster, path string) *clusterSchema {
	return &clusterSchema{db: db, cluster: cluster, path: path, shard: map[string]string{}, views: map[string]*clusterView{}}
}

// LocalSuffix names a cluster table's local (replicated) part.
const LocalSuffix = "_local"

var (
	createTableRE = regexp.MustCompile(`(?is)^CREATE\s+TABLE\s+IF\s+NOT\s+EXISTS\s+([A-Za-z_][A-Za-z0-9_]*)\s*(\(.*\))\s*ENGINE\s*=\s*([A-Za-z]*MergeTree)\s*(?:\(([^)]*)\))?(.*)$`)
	orderByRE     = regexp.MustCompile(`(?is)\bORDER\s+BY\s+(.+?)\s*(?:\bSETTINGS\b.*)?$`)
	createViewRE  = regexp.MustCompile(`(?is)^CREATE\s+VIEW\s+IF\s+NOT\s+EXISTS\s+([A-Za-z_][A-Za-z0-9_]*)\s+AS\s+(SELECT\s.*)$`)
	fromRE        = regexp.MustCompile(`(?i)\b(FROM|JOIN)\s+([A-Za-z_][A-Za-z0-9_]*)\b([^.(]|$)`)
	dropRE        = regexp.MustCompile(`(?is)^DROP\s+TABLE\s+IF\s+EXISTS\s+([A-Za-z_][A-Za-z0-9_]*)$`)
	alterRE       = regexp.MustCompile(`(?is)^ALTER\s+TABLE\s+([A-Za-z_][A-Za-z0-9_]*)\s+(.+)$`)
	identRE       = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*`)
)

func (cs *clusterSchema) q(name string) string { return cs.db + "." + name }

func (cs *clusterSchema) on() string { return " ON CLUSTER " + cs.cluster }

// render returns a migration's steps and records what it creates.
func (cs *clusterSchema) render(m migrations.Migration) ([]step, error) {
	var out []step
	fail := func(i int, why string) ([]step, error) {
		return nil, fmt.Errorf("cannot turn migration %04d_%s (statement %d) into its cluster form: %s", m.Version, m.Name, i+1, why)
	}
	for i := 0; i < len(m.Statements); i++ {
		stmt := m.Statements[i]
		if mt := createTableRE.FindStringSubmatch(stmt); mt != nil {
			name, cols, engine, args, rest := mt[1], mt[2], mt[3], strings.TrimSpace(mt[4]), strings.TrimSpace(mt[5])
			key, err := shardingKey(m.ShardingKeys[name], rest)
			if err != nil {
				return fail(i, fmt.Sprintf("table %s: %v", name, err))
			}
			path := strings.NewReplacer("{database}", cs.db, "{table}", name+LocalSuffix).Replace(cs.path)
			repl := "'" + path + "', '{replica}'"
			if args != "" {
				repl += ", " + args
			}
			cs.shard[name] = key
			out = append(out,
				step{sql: fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s%s\n%s\nENGINE = Replicated%s(%s)\n%s",
					cs.q(name+LocalSuffix), cs.on(), cols, engine, repl, rest)},
				step{sql: cs.createDistributed(name)})
			continue
		}
		if mt := createViewRE.FindStringSubmatch(stmt); mt != nil {
			name := mt[1]
			v := &clusterView{from: map[string]bool{}}
			sel := fromRE.ReplaceAllStringFunc(mt[2], func(s string) string {
				sm := fromRE.FindStringSubmatch(s)
				v.from[sm[2]] = true
				return sm[1] + " " + cs.q(sm[2]) + sm[3]
			})
			v.create = fmt.Sprintf("CREATE VIEW IF NOT EXISTS %s%s AS %s", cs.q(name), cs.on(), sel)
			if _, seen := cs.views[name]; !seen {
				cs.order = append(cs.order, name)
			}
			cs.views[name] = v
			out = append(out, step{sql: v.create})
			continue
		}
		if mt := dropRE.FindStringSubmatch(stmt); mt != nil {
			name := mt[1]
			if _, ok := cs.shard[name]; ok {
				out = append(out, cs.dropViewsOver(name)...)
				out = append(out, step{sql: fmt.Sprintf("DROP TABLE IF EXISTS %s%s", cs.q(name), cs.on())},
					step{sql: fmt.Sprintf("DROP TABLE IF EXISTS %s%s", cs.q(name+LocalSuffix), cs.on())})
				delete(cs.shard, name)
				continue
			}
			delete(cs.views, name)
			out = append(out, step{sql: fmt.Sprintf("DROP TABLE IF EXISTS %s%s", cs.q(name), cs.on())})
			continue
		}
		if mt := alterRE.FindStringSubmatch(stmt); mt != nil {
			name := mt[1]
			if _, ok := cs.shard[name]; !ok {
				return fail(i, fmt.Sprintf("ALTER of %s, which no earlier migration created as a table", name))
			}
			local := cs.q(name + LocalSuffix)
			if _, _, ok := addColumn(stmt); ok {
				// Consecutive ADD COLUMNs of one table: one ALTER, one
				// re-creation of the Distributed table.
				var adds []addedColumn
				for ; i < len(m.Statements); i++ {
					t, c, ok := addColumn(m.Statements[i])
					if !ok || t != name {
						break
					}
					def := strings.TrimSpace(addColumnRE.ReplaceAllString(m.Statements[i], ""))
					adds = append(adds, addedColumn{name: c, def: def})
				}
				i--
				out = append(out, step{sql: alterAdd(local, cs.on(), adds), local: name + LocalSuffix, adds: adds})
			} else {
				out = append(out, step{sql: fmt.Sprintf("ALTER TABLE %s%s %s", local, cs.on(), mt[2])})
			}
			// Views first: a current server may refuse to drop a table a
			// view reads.
			out = append(out, cs.dropViewsOver(name)...)
			out = append(out, step{sql: fmt.Sprintf("DROP TABLE IF EXISTS %s%s", cs.q(name), cs.on())}, step{sql: cs.createDistributed(name)})
			out = append(out, cs.createViewsOver(name)...)
			continue
		}
		return fail(i, "only CREATE TABLE IF NOT EXISTS ... ENGINE = *MergeTree, CREATE VIEW IF NOT EXISTS, DROP TABLE IF EXISTS and ALTER TABLE have one; got: "+firstLine(stmt))
	}
	return out, nil
}

func (cs *clusterSchema) createDistributed(name string) string {
	return fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s%s AS %s\nENGINE = Distributed(%s, %s, %s, %s)",
		cs.q(name), cs.on(), cs.q(name+LocalSuffix), cs.cluster, cs.db, name+LocalSuffix, cs.shard[name])
}

func (cs *clusterSchema) viewsOver(table string) []string {
	var out []string
	for _, v := range cs.order {
		if w := cs.views[v]; w != nil && w.from[table] {
			out = append(out, v)
		}
	}
	return out
}

func (cs *clusterSchema) dropViewsOver(table string) []step {
	var out []step
	for _, v := range cs.viewsOver(table) {
		out = append(out, step{sql: fmt.Sprintf("DROP TABLE IF EXISTS %s%s", cs.q(v), cs.on())})
	}
	return out
}

func (cs *clusterSchema) createViewsOver(table string) []step {
	var out []step
	for _, v := range cs.viewsOver(table) {
		out = append(out, step{sql: cs.views[v].create})
	}
	return out
}

func alterAdd(local, on string, adds []addedColumn) string {
	parts := make([]string, len(adds))
	for i, a := range adds {
		parts[i] = "ADD COLUMN " + a.name + " " + a.def
	}
	return fmt.Sprintf("ALTER TABLE %s%s\n    %s", local, on, strings.Join(parts, ",\n    "))
}

// shardingKey is the declared key, checked to use ORDER BY columns only,
// or the hash of the ORDER BY key (rand() for a table without one:
// nothing collapses there).
func shardingKey(declared, rest string) (string, error) {
	mt := orderByRE.FindStringSubmatch(rest)
	if mt == nil {
		return "", fmt.Errorf("no ORDER BY")
	}
	order := strings.TrimSpace(mt[1])
	inner := order
	if strings.HasPrefix(inner, "(") && strings.HasSuffix(inner, ")") {
		inner = strings.TrimSpace(inner[1 : len(inner)-1])
	}
	if declared == "" {
		if inner == "" || strings.EqualFold(order, "tuple()") {
			return "rand()", nil
		}
		return "cityHash64(" + inner + ")", nil
	}
	cols := map[string]bool{}
	for _, c := range identRE.FindAllString(order, -1) {
		cols[c] = true
	}
	for _, loc := range identRE.FindAllStringIndex(declared, -1) {
		id := declared[loc[0]:loc[1]]
		if loc[1] < len(declared) && declared[loc[1]] == '(' {
			continue // a function
		}
		if !cols[id] {
			return "", fmt.Errorf("its sharding_key %q uses %s, which is not in ORDER BY %s: copies of a row could land on different shards, and FINAL (per shard) would not collapse them", declared, id, order)
		}
	}
	return declared, nil
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// ClusterSQL returns the cluster form of every embedded migration, one
// statement per entry (for review and golden files).
func ClusterSQL(database, cluster, replicationPath string) (map[string][]string, error) {
	all, err := migrations.All()
	if err != nil {
		return nil, err
	}
	cs := newClusterSchema(database, cluster, replicationPath)
	out := map[string][]string{}
	for _, m := range all {
		steps, err := cs.render(m)
		if err != nil {
			return nil, err
		}
		name := fmt.Sprintf("%04d_%s", m.Version, m.Name)
		for _, s := range steps {
			out[name] = append(out[name], s.sql)
		}
	}
	out["schema_migrations"] = []string{cs.migrationsTable()}
	return out, nil
}

// migrationsTable is schema_migrations in cluster mode: one replicated
// table whose replicas are every host of the cluster (its path has no
// shard), so any node reads the whole record locally, even with a shard
// down, and a version is recorded only after its statements ran on every
// host.
func (cs *clusterSchema) migrationsTable() string {
	path := strings.NewReplacer("{shard}", "all", "{database}", cs.db, "{table}", "schema_migrations").Replace(cs.path)
	return fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s%s
(
    version UInt32,
    name String,
    applied_at DateTime
)
ENGINE = ReplicatedReplacingMergeTree('%s', '{shard}-{replica}', applied_at)
ORDER BY version`, cs.q("schema_migrations"), cs.on(), path)
}

// Statements the cluster runner reads with.
const (
	clusterHostsQuery   = "SELECT shard_num, replica_num, host_name, port FROM system.clusters WHERE cluster = ? ORDER BY shard_num, replica_num"
	clusterNamesQuery   = "SELECT DISTINCT cluster FROM system.clusters ORDER BY cluster"
	tableEngineQuery    = "SELECT engine FROM system.tables WHERE database = currentDatabase() AND name = ?"
	shardColumnsQueryFm = "SELECT name, count() FROM cluster('%s', system, columns) WHERE database = ? AND table = ? GROUP BY name"
)

type clusterHost struct {
	shard, replica uint32
	host           string
	port           uint16
}

func (h clusterHost) String() string {
	return fmt.Sprintf("%s:%d (shard %d, replica %d)", h.host, h.port, h.shard, h.replica)
}

// clusterRunner applies migrations ON CLUSTER through one connection.
type clusterRunner struct {
	conn  driver.Conn
	o     Options
	hosts []clusterHost
}

// readHosts reads the cluster's hosts as the connected server knows them;
// a cluster it does not know is an error listing those it does.
func (r *clusterRunner) readHosts(ctx context.Context) error {
	rows, err := r.conn.Query(ctx, clusterHostsQuery, r.o.Cluster)
	if err != nil {
		return fmt.Errorf("cannot read system.clusters: %w", err)
	}
	for rows.Next() {
		var h clusterHost
		if err := rows.Scan(&h.shard, &h.replica, &h.host, &h.port); err != nil {
			rows.Close()
			return fmt.Errorf("cannot read system.clusters: %w", err)
		}
		r.hosts = append(r.hosts, h)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("cannot read system.clusters: %w", err)
	}
	if len(r.hosts) > 0 {
		return nil
	}
	var names []string
	if rows, err := r.conn.Query(ctx, clusterNamesQuery); err == nil {
		for rows.Next() {
			var n string
			if rows.Scan(&n) == nil {
				names = append(names, n)
			}
		}
		rows.Close()
	}
	known := "none (no <remote_servers> in its configuration)"
	if len(names) > 0 {
		known = strings.Join(names, ", ")
	}
	return fmt.Errorf("cannot migrate ON CLUSTER %s: clickhouse.cluster names a cluster the server at %s does not know (its clusters: %s)",
		r.o.Cluster, r.o.Addrs, known)
}

func (r *clusterRunner) shards() int {
	n := map[uint32]bool{}
	for _, h := range r.hosts {
		n[h.shard] = true
	}
	return len(n)
}

// exec runs one ON CLUSTER statement, waiting up to DDLTimeout for every
// host. A host that did not finish is named, with what to do.
func (r *clusterRunner) exec(ctx context.Context, sql string) error {
	ctx = ch.Context(ctx, ch.WithSettings(ch.Settings{"distributed_ddl_task_timeout": int64Setting(r.conn, int(r.o.DDLTimeout.Seconds()))}))
	rows, err := r.conn.Query(ctx, sql)
	done := map[string]bool{}
	if err == nil {
		cols := rows.Columns()
		types := rows.ColumnTypes()
		vals := make([]any, len(cols))
		for i := range vals {
			vals[i] = reflect.New(types[i].ScanType()).Interface()
		}
		for rows.Next() {
			if rows.Scan(vals...) != nil {
				continue
			}
			var host, port string
			for i, c := range cols {
				switch c {
				case "host":
					host = fmt.Sprint(reflect.ValueOf(vals[i]).Elem().Interface())
				case "port":
					port = fmt.Sprint(reflect.ValueOf(vals[i]).Elem().Interface())
				}
			}
			done[host+":"+port] = true
		}
		err = rows.Err()
		rows.Close()
	}
	if err == nil {
		return nil
	}
	if strings.Contains(err.Error(), "distributed_ddl_task_timeout") {
		var missing []string
		for _, h := range r.hosts {
			if !done[fmt.Sprintf("%s:%d", h.host, h.port)] {
				missing = append(missing, h.String())
			}
		}
		return fmt.Errorf("cannot run ON CLUSTER %s (clickhouse.cluster): %s did not run it within clickhouse.ddl_timeout (%s); "+
			"every host of the cluster must be up to migrate (a host that comes back runs it from the DDL queue in ZooKeeper; "+
			"then run the migration again): %w", r.o.Cluster, orList(missing, "a host"), r.o.DDLTimeout, err)
	}
	return err
}

// int64Setting is v as the driver must send a signed (SettingInt64)
// setting such as distributed_ddl_task_timeout. Servers before settings
// travelled as strings (18.16 among them) read a signed setting as a
// zigzag varint, but the driver writes every integer as an unsigned
// varint: 5 would arrive as -3, and a negative DDL timeout means wait
// forever. So, to those servers, send the zigzag form of v (v >= 0: 2v).
func int64Setting(conn driver.Conn, v int) int {
	if sv, err := conn.ServerVersion(); err == nil && sv.Revision <= proto.DBMS_MIN_REVISION_WITH_SETTINGS_SERIALIZED_AS_STRINGS && v >= 0 {
		return 2 * v
	}
	return v
}

func orList(xs []string, none string) string {
	if len(xs) == 0 {
		return none
	}
	return strings.Join(xs, ", ")
}

// shardColumns counts, per column of a local table, the shards that have
// it (one replica of each answers; replicated ALTERs reach the others).
func (r *clusterRunner) shardColumns(ctx context.Context, table string) (map[string]int, error) {
	rows, err := r.conn.Query(ctx, fmt.Sprintf(shardColumnsQueryFm, r.o.Cluster), r.o.Database, table)
	if err != nil {
		return nil, fmt.Errorf("cannot read the columns of %s on every shard: %w", table, err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var name string
		var n uint64
		if err := rows.Scan(&name, &n); err != nil {
			return nil, fmt.Errorf("cannot read the columns of %s on every shard: %w", table, err)
		}
		out[name] = int(n)
	}
	return out, rows.Err()
}

// run applies one step: an ADD COLUMN step adds only what the shards lack.
func (r *clusterRunner) run(ctx context.Context, cs *clusterSchema, s step) error {
	if len(s.adds) == 0 {
		return r.exec(ctx, s.sql)
	}
	have, err := r.shardColumns(ctx, s.local)
	if err != nil {
		return err
	}
	var missing []addedColumn
	var partial []string
	for _, a := range s.adds {
		switch n := have[a.name]; {
		case n == 0:
			missing = append(missing, a)
		case n < r.shards():
			partial = append(partial, fmt.Sprintf("%s (%d of %d shards)", a.name, n, r.shards()))
		}
	}
	if len(partial) > 0 {
		sort.Strings(partial)
		return fmt.Errorf("cannot add columns to %s ON CLUSTER %s: %s exist on some shards only; an earlier run is still being applied from the DDL queue (wait until every host is up and has caught up, then run the migration again)",
			s.local, r.o.Cluster, strings.Join(partial, ", "))
	}
	if len(missing) == 0 {
		return nil
	}
	return r.exec(ctx, alterAdd(cs.q(s.local), cs.on(), missing))
}

// CreateDatabase creates o.Database when it does not exist — on every host
// of o.Cluster in cluster mode — through a connection to the server's
// "default" database (a connection to a missing database is refused).
func CreateDatabase(ctx context.Context, o Options) error {
	o.setDefaults()
	if o.Database == "default" {
		return nil
	}
	admin := o
	admin.Database = "default"
	conn, err := Open(ctx, admin)
	if err != nil {
		return err
	}
	defer conn.Close()
	if o.Cluster == "" {
		if err := conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+quoteIdent(o.Database)); err != nil {
			return fmt.Errorf("cannot create clickhouse.database %q: %w", o.Database, err)
		}
		return nil
	}
	r := &clusterRunner{conn: conn, o: o}
	if err := r.readHosts(ctx); err != nil {
		return err
	}
	if err := r.exec(ctx, fmt.Sprintf("CREATE DATABASE IF NOT EXISTS %s ON CLUSTER %s", o.Database, o.Cluster)); err != nil {
		return fmt.Errorf("cannot create clickhouse.database %s on every host: %w", o.Database, err)
	}
	return nil
}

func quoteIdent(s string) string {
	return "`" + strings.NewReplacer("\\", "\\\\", "`", "\\`").Replace(s) + "`"
}
