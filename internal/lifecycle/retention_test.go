package lifecycle

import (
	"context"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sightline-dev/sightline/internal/testenv"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

func TestExpiredPartitions(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.DateTime, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	c := chsink.Cutoffs{Tenants: []chsink.TenantCutoff{{Tenant: "acme", Before: at("2026-03-17 12:00:00")}, {Tenant: "keep"}},
		Default: at("2026-05-16 12:00:00")}
	pt := func(partition, tenant string, rows uint64, newest string) chsink.PartitionTenant {
		return chsink.PartitionTenant{Partition: partition, Tenant: tenant, Rows: rows, Newest: at(newest)}
	}
	for _, tc := range []struct {
		name  string
		stats []chsink.PartitionTenant
		want  []string
	}{
		{"every tenant expired", []chsink.PartitionTenant{pt("202601", "acme", 3, "2026-01-31 23:59:59"), pt("202601", "b", 2, "2026-01-20 00:00:00")}, []string{"202601"}},
		{"one tenant kept forever", []chsink.PartitionTenant{pt("202511", "b", 3, "2025-11-02 00:00:00"), pt("202511", "keep", 1, "2025-11-01 00:00:00")}, nil},
		{"a longer retention holds the month", []chsink.PartitionTenant{pt("202603", "acme", 3, "2026-03-17 12:00:00"), pt("202603", "b", 2, "2026-03-20 00:00:00")}, nil},
		{"a row one second before the cutoff", []chsink.PartitionTenant{pt("202603", "acme", 3, "2026-03-17 11:59:59")}, []string{"202603"}},
		{"default tenants at their cutoff", []chsink.PartitionTenant{pt("202605", "b", 3, "2026-05-16 12:00:00")}, nil},
		{"several, in order", []chsink.PartitionTenant{pt("202512", "b", 1, "2025-12-01 00:00:00"), pt("202510", "b", 1, "2025-10-01 00:00:00"),
			pt("202511", "keep", 1, "2025-11-01 00:00:00")}, []string{"202510", "202512"}},
	} {
		got, rows := ExpiredPartitions(tc.stats, c)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
		for _, p := range got {
			var want uint64
			for _, s := range tc.stats {
				if s.Partition == p {
					want += s.Rows
				}
			}
			if rows[p] != want {
				t.Errorf("%s: %s holds %d rows, want %d", tc.name, p, rows[p], want)
			}
		}
	}
}

// Rows of three tenants spread over eight months in every table the
// retention covers: acme keeps 90 days, keep forever, the others (b) the
// default 30 days. One run deletes exactly the rows older than each
// tenant's limit (rows one second either side of it included), drops the
// months in which every row expired and no others, counts what it deleted
// in its metrics, and a second run finds nothing.
func TestRetentionDropsExactlyWhatExpired(t *testing.T) {
	conn, _ := testenv.Database(t)
	ctx := context.Background()
	now := time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)
	cfg := Config{Default: Duration(30 * day), Tenants: map[string]Duration{"acme": Duration(90 * day), "keep": 0}, Interval: Duration(day)}
	cut := cfg.Cutoffs(now)
	back := func(d time.Duration) time.Time { return now.Add(-d) }
	var calls []call
	add := func(tenant string, times ...time.Time) {
		for _, ts := range times {
			calls = append(calls, call{id: eventID(), tenant: tenant, user: "u-" + tenant, ts: ts})
		}
	}
	shared := []time.Time{back(12 * time.Hour), back(10 * day), back(29 * day), back(31 * day), back(45 * day), back(60 * day),
		back(100 * day), back(150 * day), back(200 * day), back(240 * day)}
	add("b", shared...)
	add("b", cut.Default.Add(-time.Second), cut.Default, cut.Default.Add(time.Second))
	add("acme", shared...)
	acmeCut := cut.Before("acme")
	add("acme", back(89*day), back(91*day), back(120*day), acmeCut.Add(-time.Second), acmeCut, acmeCut.Add(time.Second))
	add("keep", back(day), back(40*day), back(200*day))
	writeCalls(t, conn, calls, false)

	// What must remain, and which months hold only expired rows.
	var want []string
	expired := map[string]bool{}
	kept := map[string]bool{}
	for _, c := range calls {
		month := c.ts.Format("200601")
		if b := cut.Before(c.tenant); b.IsZero() || !c.ts.Before(b) {
			want = append(want, c.tenant+" "+c.ts.UTC().Format(time.DateTime))
			kept[month] = true
		} else {
			expired[month] = true
		}
	}
	sort.Strings(want)
	var wantDropped []string
	for m := range expired {
		if !kept[m] {
			wantDropped = append(wantDropped, m)
		}
	}
	sort.Strings(wantDropped)
	if len(wantDropped) < 2 || len(want) == len(calls) {
		t.Fatalf("the data must have whole expired months and partly expired ones: dropped %v", wantDropped)
	}
	t.Logf("%d rows per table, %d to keep; cutoffs: default %s, acme %s; months expired whole: %v",
		len(calls), len(want), cut.Default.Format(time.DateTime), acmeCut.Format(time.DateTime), wantDropped)

	reg := prometheus.NewRegistry()
	task, err := NewTask(TaskOptions{Conn: conn, Config: cfg, Registerer: reg, Poll: 50 * time.Millisecond})
	testenv.Must(t, err, "new task")
	res, err := task.RunOnce(ctx, now)
	testenv.Must(t, err, "retention run")
	if len(res.Tables) != len(chsink.RetentionTables) {
		t.Fatalf("run covered %d tables, want %d", len(res.Tables), len(chsink.RetentionTables))
	}
	for i, table := range chsink.RetentionTables {
		tr := res.Tables[i]
		if got := tenantTimes(t, conn, table); !reflect.DeepEqual(got, want) {
			t.Errorf("%s after retention:\n got %v\nwant %v", table.Name, got, want)
		}
		if !reflect.DeepEqual(tr.DroppedPartitions, wantDropped) {
			t.Errorf("%s: dropped partitions %v, want %v", table.Name, tr.DroppedPartitions, wantDropped)
		}
		if n := tr.DroppedRows + tr.MutatedRows; n != uint64(len(calls)-len(want)) || tr.MutatedRows == 0 {
			t.Errorf("%s: %d rows dropped with partitions and %d by mutation, want %d in all, some by mutation",
				table.Name, tr.DroppedRows, tr.MutatedRows, len(calls)-len(want))
		}
		for how, n := range map[string]uint64{"partition": tr.DroppedRows, "mutation": tr.MutatedRows} {
			if got := counter(t, reg, "sightline_retention_deleted_rows_total", "table", table.Name, "how", how); got != float64(n) {
				t.Errorf("%s: sightline_retention_deleted_rows_total{how=%q} = %v, want %d", table.Name, how, got, n)
			}
		}
		if got := counter(t, reg, "sightline_retention_dropped_partitions_total", "table", table.Name); got != float64(len(wantDropped)) {
			t.Errorf("%s: sightline_retention_dropped_partitions_total = %v, want %d", table.Name, got, len(wantDropped))
		}
	}

	again, err := task.RunOnce(ctx, now)
	testenv.Must(t, err, "second run")
	if again.DeletedRows() != 0 || again.DroppedPartitions() != 0 {
		t.Fatalf("second run deleted %d rows, dropped %d partitions", again.DeletedRows(), again.DroppedPartitions())
	}
	if got := counter(t, reg, "sightline_retention_runs_total", "result", "ok"); got != 2 {
		t.Fatalf("sightline_retention_runs_total{result=ok} = %v, want 2", got)
	}
}

// counter reads one counter series from what reg exports.
func counter(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	testenv.Must(t, err, "gather")
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for i := 0; i+1 < len(labels); i += 2 {
				if have[labels[i]] != labels[i+1] {
					continue series
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	t.Fatalf("%s%v is not exported", name, labels)
	return 0
}

// Every table the retention covers is partitioned by month of the column
// it expires rows by: what dropping whole partitions relies on.
func TestRetentionTablesArePartitionedByMonth(t *testing.T) {
	conn, _ := testenv.Database(t)
	for _, table := range chsink.RetentionTables {
		key, err := chsink.PartitionKey(context.Background(), conn, table.Name)
		testenv.Must(t, err, "partition key")
		if key != table.MonthlyPartitionKey() {
			t.Errorf("%s is partitioned by %q, want %q", table.Name, key, table.MonthlyPartitionKey())
		}
	}
}

// Nothing to expire: every tenant keeps its rows, the run deletes nothing.
func TestRetentionKeepsEverythingWhenToldTo(t *testing.T) {
	conn, _ := testenv.Database(t)
	now := time.Now().UTC()
	writeCalls(t, conn, []call{{id: eventID(), tenant: "b", user: "u", ts: now.Add(-400 * day)}}, false)
	task, err := NewTask(TaskOptions{Conn: conn, Config: Config{Default: 0, Interval: Duration(day)}})
	testenv.Must(t, err, "new task")
	res, err := task.RunOnce(context.Background(), now)
	testenv.Must(t, err, "run")
	if res.DeletedRows() != 0 || count(t, conn, "SELECT count() FROM llm_events") != 1 {
		t.Fatalf("deleted %d rows with retention off", res.DeletedRows())
	}
}
