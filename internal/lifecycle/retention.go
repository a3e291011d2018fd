package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"

	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

// TaskOptions configure the retention task.
type TaskOptions struct {
	Conn   driver.Conn
	Config Config
	// Registerer takes the task's metrics (nil: none exported).
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	// StartDelay is the wait before the first run (default 1m), so that
	// the run does not add to a starting process's load.
	StartDelay time.Duration
	// MutationTimeout bounds the wait for one table's deletion mutation
	// (default 1h); a mutation still running then is left to the server
	// and the table skipped until it is done.
	MutationTimeout time.Duration
	// Poll is how often a wait for mutations looks at system.mutations
	// (default 1s).
	Poll time.Duration
}

// Task applies the retention to the tables in chsink.RetentionTables on a
// schedule. Run it in a goroutine its owner waits for.
type Task struct {
	o TaskOptions
	m *retentionMetrics
}

type retentionMetrics struct {
	rows       *prometheus.CounterVec
	partitions *prometheus.CounterVec
	runs       *prometheus.CounterVec
	lastOK     prometheus.Gauge
}

func newRetentionMetrics(reg prometheus.Registerer) *retentionMetrics {
	m := &retentionMetrics{
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sightline_retention_deleted_rows_total",
			Help: "Rows deleted by the retention, by table and how: partition (a whole expired month dropped) or mutation (ALTER TABLE ... DELETE)."},
			[]string{"table", "how"}),
		partitions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sightline_retention_dropped_partitions_total",
			Help: "Monthly partitions the retention dropped whole, by table."}, []string{"table"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sightline_retention_runs_total",
			Help: "Runs of the retention task, by result (ok, error)."}, []string{"result"}),
		lastOK: prometheus.NewGauge(prometheus.GaugeOpts{Name: "sightline_retention_last_success_timestamp_seconds",
			Help: "When the retention last completed without an error, Unix seconds."}),
	}
	for _, t := range chsink.RetentionTables {
		m.rows.WithLabelValues(t.Name, "partition")
		m.rows.WithLabelValues(t.Name, "mutation")
		m.partitions.WithLabelValues(t.Name)
	}
	m.runs.WithLabelValues("ok")
	m.runs.WithLabelValues("error")
	if reg != nil {
		reg.MustRegister(m.rows, m.partitions, m.runs, m.lastOK)
	}
	return m
}

// NewTask validates the options and builds the task.
func NewTask(o TaskOptions) (*Task, error) {
	if o.Conn == nil {
		return nil, errors.New("cannot start the retention task: no clickhouse connection")
	}
	o.Config = o.Config.WithDefaults()
	if err := o.Config.Validate(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.StartDelay == 0 {
		o.StartDelay = time.Minute
	}
	if o.MutationTimeout == 0 {
		o.MutationTimeout = time.Hour
	}
	if o.Poll == 0 {
		o.Poll = time.Second
	}
	return &Task{o: o, m: newRetentionMetrics(o.Registerer)}, nil
}

// Run applies the retention after StartDelay and then every
// retention.interval until ctx ends (it returns nil then). A failed run
// is logged and counted; the next one tries again.
func (t *Task) Run(ctx context.Context) error {
	timer := time.NewTimer(t.o.StartDelay)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		res, err := t.RunOnce(ctx, time.Now())
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			t.o.Logger.Warn("retention run failed; it is tried again at the next interval", "err", err, "interval", t.o.Config.Interval)
		default:
			t.o.Logger.Info("retention applied", "partitions_dropped", res.DroppedPartitions(), "rows_deleted", res.DeletedRows())
		}
		timer.Reset(time.Duration(t.o.Config.Interval))
	}
}

// TableResult is what one run did to one table.
type TableResult struct {
	Table string `json:"table"`
	// DroppedPartitions are the monthly partitions dropped whole, and
	// DroppedRows the rows they held.
	DroppedPartitions []string `json:"dropped_partitions,omitempty"`
	DroppedRows       uint64   `json:"dropped_rows"`
	// MutatedRows are the expired rows the deletion mutation removed.
	MutatedRows uint64 `json:"mutated_rows"`
	// Deferred is set when an earlier mutation of the table was still
	// running, so none was started (the next run deletes those rows).
	Deferred bool `json:"deferred,omitempty"`
}

// Result is what one run did.
type Result struct {
	Cutoffs chsink.Cutoffs `json:"-"`
	Tables  []TableResult  `json:"tables"`
}

// DroppedPartitions counts the partitions dropped in all tables.
func (r Result) DroppedPartitions() int {
	n := 0
	for _, t := range r.Tables {
		n += len(t.DroppedPartitions)
	}
	return n
}

// DeletedRows counts the rows deleted in all tables, both ways.
func (r Result) DeletedRows() uint64 {
	var n uint64
	for _, t := range r.Tables {
		n += t.DroppedRows + t.MutatedRows
	}
	return n
}

// Cutoffs are the retention of every tenant at now: rows older than
// now minus the tenant's retention expire.
func (c Config) Cutoffs(now time.Time) chsink.Cutoffs {
	c = c.WithDefaults()
	before := func(d Duration) time.Time {
		if d == 0 {
			return time.Time{}
		}
		return now.Add(-time.Duration(d)).Truncate(time.Second)
	}
	out := chsink.Cutoffs{Default: before(c.Default)}
	for tenant, d := range c.Tenants {
		out.Tenants = append(out.Tenants, chsink.TenantCutoff{Tenant: tenant, Before: before(d)})
	}
	sort.Slice(out.Tenants, func(i, j int) bool { return out.Tenants[i].Tenant < out.Tenants[j].Tenant })
	return out
}

// latest is the newest cutoff: no partition after its month can hold an
// expired row.
func latest(c chsink.Cutoffs) time.Time {
	l := c.Default
	for _, t := range c.Tenants {
		if t.Before.After(l) {
			l = t.Before
		}
	}
	return l
}

// ExpiredPartitions returns the partitions in which every row has expired:
// each tenant's newest row in the partition is older than that tenant's
// cutoff (a tenant whose rows are kept keeps the whole partition).
func ExpiredPartitions(stats []chsink.PartitionTenant, c chsink.Cutoffs) (ids []string, rows map[string]uint64) {
	keep := map[string]bool{}
	rows = map[string]uint64{}
	var order []string
	for _, s := range stats {
		if _, seen := rows[s.Partition]; !seen {
			order = append(order, s.Partition)
		}
		rows[s.Partition] += s.Rows
		before := c.Before(s.Tenant)
		if before.IsZero() || s.Newest.Unix() >= before.Unix() {
			keep[s.Partition] = true
		}
	}
	for _, p := range order {
		if !keep[p] {
			ids = append(ids, p)
		}
	}
	sort.Strings(ids)
	return ids, rows
}

// RunOnce applies the retention as of now: for every table, drops the
// partitions whose rows have all expired, then deletes the remaining
// expired rows with one mutation and waits for it. It also drops forget
// snapshots left by a forget that stopped midway.
func (t *Task) RunOnce(ctx context.Context, now time.Time) (Result, error) {
	res, err := t.runOnce(ctx, now)
	if err != nil {
		t.m.runs.WithLabelValues("error").Inc()
		return res, err
	}
	t.m.runs.WithLabelValues("ok").Inc()
	t.m.lastOK.Set(float64(time.Now().Unix()))
	return res, nil
}

func (t *Task) runOnce(ctx context.Context, now time.Time) (Result, error) {
	conn, log := t.o.Conn, t.o.Logger
	c := t.o.Config.Cutoffs(now)
	res := Result{Cutoffs: c}
	var errs []error
	if stale, err := chsink.StaleForgetSnapshots(ctx, conn, now.Add(-24*time.Hour)); err != nil {
		errs = append(errs, err)
	} else {
		for _, id := range stale {
			if err := chsink.DropForgetSnapshot(ctx, conn, id); err != nil {
				errs = append(errs, err)
			}
		}
	}
	through := latest(c)
	if through.IsZero() {
		return res, errors.Join(errs...) // every tenant keeps its rows
	}
	for _, table := range chsink.RetentionTables {
		tr, err := t.applyTable(ctx, table, c, through)
		res.Tables = append(res.Tables, tr)
		if err != nil {
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			// One table's failure does not keep the others from expiring.
			errs = append(errs, err)
			continue
		}
		if tr.Deferred {
			log.Info("retention: a mutation of the table is still running; its expired rows are deleted at the next run", "table", table.Name)
		}
	}
	return res, errors.Join(errs...)
}

func (t *Task) applyTable(ctx context.Context, table chsink.RetentionTable, c chsink.Cutoffs, through time.Time) (TableResult, error) {
	conn := t.o.Conn
	tr := TableResult{Table: table.Name}
	key, err := chsink.PartitionKey(ctx, conn, table.Name)
	if err != nil {
		return tr, err
	}
	// Whole partitions only where they are the months this code assumes;
	// otherwise the mutation below does all the work.
	if key == table.MonthlyPartitionKey() {
		stats, err := chsink.PartitionTenants(ctx, conn, table, through)
		if err != nil {
			return tr, err
		}
		ids, rows := ExpiredPartitions(stats, c)
		for _, id := range ids {
			if err := chsink.DropPartition(ctx, conn, table.Name, id); err != nil {
				return tr, err
			}
			tr.DroppedPartitions = append(tr.DroppedPartitions, id)
			tr.DroppedRows += rows[id]
			t.m.partitions.WithLabelValues(table.Name).Inc()
			t.m.rows.WithLabelValues(table.Name, "partition").Add(float64(rows[id]))
		}
	}
	pending, err := chsink.PendingMutations(ctx, conn, table.Name, "")
	if err != nil {
		return tr, err
	}
	if pending > 0 {
		// Its rows would be counted (and deleted) twice.
		tr.Deferred = true
		return tr, nil
	}
	n, err := chsink.CountExpired(ctx, conn, table, c)
	if err != nil || n == 0 {
		return tr, err
	}
	if err := chsink.DeleteExpired(ctx, conn, table, c); err != nil {
		return tr, err
	}
	tr.MutatedRows = n
	t.m.rows.WithLabelValues(table.Name, "mutation").Add(float64(n))
	wctx, cancel := context.WithTimeout(ctx, t.o.MutationTimeout)
	defer cancel()
	return tr, waitMutations(wctx, conn, []string{table.Name}, "", t.o.Poll)
}

// waitMutations waits until no mutation of the tables whose command
// contains the given text is left undone. ClickHouse runs mutations in the
// background; 18.16 does not say why one fails, so a failing one shows as
// never done and the wait ends with ctx.
func waitMutations(ctx context.Context, conn driver.Conn, tables []string, containing string, poll time.Duration) error {
	for {
		var left []string
		for _, table := range tables {
			n, err := chsink.PendingMutations(ctx, conn, table, containing)
			if err != nil {
				return err
			}
			if n > 0 {
				left = append(left, table)
			}
		}
		if len(left) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cannot wait for the deletions in %v to finish (see system.mutations, is_done = 0): %w", left, ctx.Err())
		case <-time.After(poll):
		}
	}
}
