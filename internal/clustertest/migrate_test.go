package clustertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sightline-dev/sightline/internal/cli"
	"github.com/sightline-dev/sightline/internal/testenv"
	features "github.com/sightline-dev/sightline/processors/eventfeatures"
	"github.com/sightline-dev/sightline/processors/window"
	"github.com/sightline-dev/sightline/schemas/eventpb"
	"github.com/sightline-dev/sightline/schemas/migrations"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// The migrations ON CLUSTER on a 2x2 cluster: every table is a replicated
// local table on every host plus a Distributed table, the record is on
// every host, a re-run from another host applies nothing, a replayed
// insert collapses in FINAL through the Distributed table, every row of
// one signal key lands on one shard, and each bad input is an error
// naming its setting. Afterwards no server and no ZooKeeper is left
// running.
func TestClusterMigrate(t *testing.T) {
	var dir string
	t.Run("cluster", func(t *testing.T) {
		c := testenv.StartCluster(t, 2, 2)
		dir = c.Dir
		clusterMigrate(t, c)
	})
	if dir == "" {
		return // skipped, or failed before a cluster existed
	}
	// The subtest's cleanups stopped the servers and ZooKeeper: no
	// process still names the cluster's directory.
	out, err := exec.Command("pgrep", "-a", "-f", dir).Output()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee) && ee.ExitCode() == 1:
		// pgrep found nothing.
	case err != nil:
		t.Fatalf("cannot run pgrep: %v", err)
	default:
		t.Errorf("processes of the test cluster left running:\n%s", out)
	}
}

func clusterMigrate(t *testing.T, c *testenv.Cluster) {
	began := time.Now()
	ctx := context.Background()
	conn, opts := c.Database(t)
	t.Logf("database created and migrated ON CLUSTER in %s", time.Since(began).Round(100*time.Millisecond))
	all, err := migrations.All()
	testenv.Must(t, err, "migrations")
	last := all[len(all)-1].Version

	// Every host has the same tables, engines and migration record.
	tables := func(addr string) (map[string]string, []uint32) {
		o := opts
		o.Addrs = []string{addr}
		o.Cluster = "" // this host alone
		n, err := chsink.Open(ctx, o)
		testenv.Must(t, err, "connect to "+addr)
		defer n.Close()
		out := map[string]string{}
		rows, err := n.Query(ctx, "SELECT name, engine FROM system.tables WHERE database = currentDatabase()")
		testenv.Must(t, err, "tables")
		for rows.Next() {
			var name, engine string
			testenv.Must(t, rows.Scan(&name, &engine), "scan")
			out[name] = engine
		}
		rows.Close()
		var versions []uint32
		testenv.Eventually(t, 30*time.Second, "the migration record replicated to "+addr, func() (bool, string) {
			versions = versions[:0]
			rows, err := n.Query(ctx, "SELECT version FROM schema_migrations FINAL ORDER BY version")
			if err != nil {
				return false, err.Error()
			}
			for rows.Next() {
				var v uint32
				_ = rows.Scan(&v)
				versions = append(versions, v)
			}
			rows.Close()
			return len(versions) > 0 && versions[len(versions)-1] == last, fmt.Sprint(versions)
		})
		return out, versions
	}
	first, firstVersions := tables(c.Nodes[0].Addr())
	for _, table := range []string{"llm_events", "llm_feedback", "llm_signals", "llm_windows", "llm_baselines", "llm_alerts", "llm_jobs",
		"llm_evaluations", "llm_eval_runs", "llm_experiments"} {
		if !strings.HasPrefix(first[table+"_local"], "Replicated") || first[table] != "Distributed" {
			t.Errorf("%s: local table %q, table %q; want Replicated*MergeTree and Distributed", table, first[table+"_local"], first[table])
		}
	}
	if first["llm_events_dedup"] != "View" || !strings.HasPrefix(first["schema_migrations"], "Replicated") {
		t.Errorf("llm_events_dedup is %q, schema_migrations %q", first["llm_events_dedup"], first["schema_migrations"])
	}
	for _, n := range c.Nodes[1:] {
		got, versions := tables(n.Addr())
		if fmt.Sprint(got) != fmt.Sprint(first) || fmt.Sprint(versions) != fmt.Sprint(firstVersions) {
			t.Errorf("%s differs from %s:\n%v %v\n%v %v", n, c.Nodes[0], got, versions, first, firstVersions)
		}
	}

	// Re-run from the last host: nothing to apply.
	o := opts
	o.Addrs = []string{c.Nodes[3].Addr()}
	again, err := chsink.Open(ctx, o)
	testenv.Must(t, err, "connect to the last host")
	defer again.Close()
	rerun := time.Now()
	res, err := chsink.MigrateOn(ctx, again, o)
	testenv.Must(t, err, "re-run the migrations from another host")
	if len(res.Applied) != 0 || res.Current != last {
		t.Fatalf("re-run applied %v (current %d)", res.Applied, res.Current)
	}
	t.Logf("re-run from %s applied nothing in %s", c.Nodes[3], time.Since(rerun).Round(100*time.Millisecond))

	// One server's migrate on this database is refused.
	if _, err := chsink.Migrate(ctx, again); err == nil || !strings.Contains(err.Error(), "clickhouse.cluster") {
		t.Errorf("a single-server migrate of a cluster database: %v", err)
	}

	// Events inserted twice through the Distributed table: FINAL (per
	// shard) collapses them because one event id lives on one shard.
	var rows []chsink.EventRow
	for i := 0; i < 1000; i++ {
		ev := &eventpb.Event{SchemaVersion: 1, EventId: fmt.Sprintf("0190c8e4-5a2b-7c3d-8e4f-%012d", i), Tenant: "t", App: "a", Model: "m",
			Ts: timestamppb.New(time.Date(2026, 11, 27, 10, 0, i%60, 0, time.UTC)), DurationMs: 100,
			Completion: []*eventpb.Message{{Role: "assistant", Content: "ok", FinishReason: "stop"}}}
		rows = append(rows, chsink.EventRow{Event: ev, Features: features.Compute(ev), Offset: int64(i)})
	}
	testenv.Must(t, chsink.InsertEvents(ctx, conn, rows), "insert")
	testenv.Must(t, chsink.InsertEvents(ctx, conn, rows[:600]), "replayed insert")
	var raw, final, view, distinct uint64
	testenv.Must(t, conn.QueryRow(ctx, "SELECT count() FROM llm_events").Scan(&raw), "raw")
	testenv.Must(t, conn.QueryRow(ctx, "SELECT count() FROM llm_events FINAL").Scan(&final), "final")
	testenv.Must(t, conn.QueryRow(ctx, "SELECT count() FROM llm_events_dedup").Scan(&view), "view")
	testenv.Must(t, conn.QueryRow(ctx, "SELECT uniqExact(event_id) FROM llm_events").Scan(&distinct), "distinct")
	if raw != 1600 || final != 1000 || view != 1000 || distinct != 1000 {
		t.Fatalf("raw %d, FINAL %d, view %d, distinct %d; want 1600/1000/1000/1000", raw, final, view, distinct)
	}
	// Both shards hold events, none on both (the sync insert wrote them
	// before returning).
	perShard := map[int]uint64{}
	keyShards := map[window.Key][]int{} // signal key -> shards holding its rows
	for _, n := range c.Nodes {
		if n.Replica != 1 {
			continue
		}
		o := opts
		o.Addrs, o.Cluster = []string{n.Addr()}, ""
		h, err := chsink.Open(ctx, o)
		testenv.Must(t, err, "connect")
		var k uint64
		testenv.Must(t, h.QueryRow(ctx, "SELECT uniqExact(event_id) FROM llm_events_local").Scan(&k), "count local")
		perShard[n.Shard] = k
		h.Close()
	}
	if perShard[1] == 0 || perShard[2] == 0 || perShard[1]+perShard[2] != 1000 {
		t.Errorf("events per shard %v; want both shards used and every event on one", perShard)
	}
	t.Logf("2x2 cluster migrated to version %d; 1000 events (600 replayed) split %v over the shards", last, perShard)

	// Signals of 40 keys, 3 windows each, written twice (a replayed
	// window): every row of one key on one shard, FINAL keeps one row per
	// key, window and signal.
	var sig []chsink.SignalRow
	for k := 0; k < 40; k++ {
		key := window.Key{Tenant: "t", App: fmt.Sprintf("app-%d", k%5), Model: fmt.Sprintf("m-%d", k), Variant: "a"}
		for w := 0; w < 3; w++ {
			sig = append(sig, chsink.SignalRow{Key: key, WindowStart: time.Date(2026, 11, 27, 10, w, 0, 0, time.UTC).Unix(), WindowSeconds: 60,
				Signal: window.Signal{Name: "toxicity", Metric: "rate", Value: 0.1, N: 10}})
		}
	}
	testenv.Must(t, chsink.InsertSignals(ctx, conn, sig), "insert signals")
	testenv.Must(t, chsink.InsertSignals(ctx, conn, sig), "replayed signals")
	var sigFinal uint64
	testenv.Must(t, conn.QueryRow(ctx, "SELECT count() FROM llm_signals FINAL").Scan(&sigFinal), "signals FINAL")
	if sigFinal != 120 {
		t.Errorf("llm_signals FINAL has %d rows; want 120 (40 keys x 3 windows)", sigFinal)
	}
	for _, n := range c.Nodes {
		if n.Replica != 1 {
			continue
		}
		o := opts
		o.Addrs, o.Cluster = []string{n.Addr()}, ""
		h, err := chsink.Open(ctx, o)
		testenv.Must(t, err, "connect")
		rows, err := h.Query(ctx, "SELECT DISTINCT tenant, app, model, variant FROM llm_signals_local")
		testenv.Must(t, err, "signal keys")
		for rows.Next() {
			var key window.Key
			testenv.Must(t, rows.Scan(&key.Tenant, &key.App, &key.Model, &key.Variant), "scan")
			keyShards[key] = append(keyShards[key], n.Shard)
		}
		rows.Close()
		h.Close()
	}
	onShard := map[int]int{}
	for key, shards := range keyShards {
		if len(shards) != 1 {
			t.Errorf("signal key %v has rows on shards %v; want one", key, shards)
		}
		onShard[shards[0]]++
	}
	if len(keyShards) != 40 || onShard[1] == 0 || onShard[2] == 0 {
		t.Errorf("%d signal keys, per shard %v; want 40 over both shards", len(keyShards), onShard)
	}
	t.Logf("40 signal keys (each written twice) on shards %v, each key on one", onShard)

	// Bad input, through the command line as an operator meets it.
	dir := t.TempDir()
	migrate := func(cfg string, args ...string) error {
		path := filepath.Join(dir, "sightline.yaml")
		testenv.Must(t, os.WriteFile(path, []byte(cfg), 0o600), "config")
		var out, errb bytes.Buffer
		return cli.Execute(ctx, append([]string{"migrate", "--config", path}, args...), &out, &errb)
	}
	addrs := strings.Join(c.Addrs(), ",")
	err = migrate(fmt.Sprintf("clickhouse:\n  addr: %s\n  database: t_bad\n  cluster: no_such_cluster\n", addrs))
	t.Logf("cluster that does not exist: %v", err)
	if err == nil || !strings.Contains(err.Error(), "clickhouse.cluster") || !strings.Contains(err.Error(), "its clusters: "+c.Name) {
		t.Errorf("a cluster that does not exist: %v", err)
	}
	err = migrate(fmt.Sprintf("clickhouse:\n  addr: %s\n  cluster: %s\n", addrs, c.Name), "--cluster", "my-cluster")
	if err == nil || !strings.Contains(err.Error(), "clickhouse.cluster") {
		t.Errorf("a cluster name that is not an identifier: %v", err)
	}

	// A shard down: both replicas of shard 2 stopped.
	c.Stop(2)
	c.Stop(3)
	start := time.Now()
	err = migrate(fmt.Sprintf("clickhouse:\n  addr: %s\n  database: t_shard_down\n  cluster: %s\n  ddl_timeout: 5s\n", c.Nodes[0].Addr(), c.Name))
	t.Logf("shard down (after %s): %v", time.Since(start).Round(time.Second), err)
	if err == nil || !strings.Contains(err.Error(), "clickhouse.ddl_timeout") || !strings.Contains(err.Error(), c.Nodes[2].Addr()) ||
		!strings.Contains(err.Error(), c.Nodes[3].Addr()) || strings.Contains(err.Error(), c.Nodes[1].Addr()+" ") {
		t.Errorf("a shard down at migration time: %v", err)
	}
}
