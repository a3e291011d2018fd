package clickhouse

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sightline-dev/sightline/processors/window"
)

// ExperimentRow is one look of a sequential A/B experiment in
// llm_experiments.
type ExperimentRow struct {
	Key           window.Key // the treatment's key
	Control       string
	WindowSeconds uint32
	Look          window.ExperimentLook
	// Version orders the rewrites of one look (llm_experiments is a
	// ReplacingMergeTree on it).
	Version uint64
}

// ExperimentColumns is the explicit column list of llm_experiments inserts.
var ExperimentColumns = []string{"tenant", "app", "model", "variant", "control", "window_seconds", "window_start",
	"started", "looks", "control_n", "treatment_n", "state", "version"}

var insertExperiments = InsertStmt("llm_experiments", ExperimentColumns)

// InsertExperiments writes looks in one batch (one attempt).
func InsertExperiments(ctx context.Context, conn driver.Conn, rows []ExperimentRow) error {
	if len(rows) == 0 {
		return nil
	}
	b, err := conn.PrepareBatch(ctx, insertExperiments)
	if err != nil {
		return fmt.Errorf("cannot prepare llm_experiments insert: %w", err)
	}
	for _, r := range rows {
		st := r.Look.State
		if st == nil {
			_ = b.Abort()
			return fmt.Errorf("cannot store the look at %d of %v: no state", r.Look.Window, r.Key)
		}
		enc, err := json.Marshal(r.Look)
		if err != nil {
			_ = b.Abort()
			return fmt.Errorf("cannot encode experiment look: %w", err)
		}
		ctl, trt := st.Cumulative()
		if err := b.Append(r.Key.Tenant, r.Key.App, r.Key.Model, r.Key.Variant, r.Control, r.WindowSeconds,
			time.Unix(r.Look.Window, 0).UTC(), time.Unix(st.Start, 0).UTC(), uint32(st.Looks), ctl.Count, trt.Count,
			string(enc), r.Version); err != nil {
			_ = b.Abort()
			return fmt.Errorf("cannot append to llm_experiments batch: %w", err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("cannot insert %d rows into llm_experiments: %w", len(rows), err)
	}
	return nil
}

// decodeLook reads a stored look; ok is false for a row this version
// cannot read (the experiment then starts again, as with no row).
func decodeLook(state string) (window.ExperimentLook, bool) {
	var l window.ExperimentLook
	if err := json.Unmarshal([]byte(state), &l); err != nil || l.State == nil {
		return window.ExperimentLook{}, false
	}
	return l, true
}

// LatestExperiments returns the latest stored look of every experiment
// against control in the windows of one size of (tenant, app, model), by
// treatment variant: where the aggregate stage continues them after a
// restart.
func LatestExperiments(ctx context.Context, conn driver.Conn, tenant, app, model, control string, seconds uint32) (map[string]window.ExperimentLook, error) {
	rows, err := conn.Query(ctx, `SELECT variant, argMax(state, window_start) FROM llm_experiments FINAL
		WHERE tenant = ? AND app = ? AND model = ? AND control = ? AND window_seconds = ?
		GROUP BY variant`, tenant, app, model, control, seconds)
	if err != nil {
		return nil, fmt.Errorf("cannot read llm_experiments: %w", err)
	}
	defer rows.Close()
	out := map[string]window.ExperimentLook{}
	for rows.Next() {
		var variant, state string
		if err := rows.Scan(&variant, &state); err != nil {
			return nil, fmt.Errorf("cannot read llm_experiments: %w", err)
		}
		if l, ok := decodeLook(state); ok {
			out[variant] = l
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot read llm_experiments: %w", err)
	}
	return out, nil
}

// ExperimentLooksAround returns, for the experiment of a treatment key
// against control in windows of one size, the latest stored look of a
// window before at (nil if none) and the stored looks of windows after at,
// in window order: what a look inserted or corrected at at is replayed
// from.
func ExperimentLooksAround(ctx context.Context, conn driver.Conn, key window.Key, control string, seconds uint32, at int64) (*window.ExperimentLook, []window.ExperimentLook, error) {
	const where = `FROM llm_experiments FINAL
		WHERE tenant = ? AND app = ? AND model = ? AND variant = ? AND control = ? AND window_seconds = ? AND window_start `
	t := time.Unix(at, 0).UTC()
	read := func(q string) ([]window.ExperimentLook, error) {
		rows, err := conn.Query(ctx, q, key.Tenant, key.App, key.Model, key.Variant, control, seconds, t)
		if err != nil {
			return nil, fmt.Errorf("cannot read llm_experiments: %w", err)
		}
		defer rows.Close()
		var out []window.ExperimentLook
		for rows.Next() {
			var state string
			if err := rows.Scan(&state); err != nil {
				return nil, fmt.Errorf("cannot read llm_experiments: %w", err)
			}
			if l, ok := decodeLook(state); ok {
				out = append(out, l)
			}
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("cannot read llm_experiments: %w", err)
		}
		return out, nil
	}
	before, err := read("SELECT state " + where + "< ? ORDER BY window_start DESC LIMIT 1")
	if err != nil {
		return nil, nil, err
	}
	after, err := read("SELECT state " + where + "> ? ORDER BY window_start")
	if err != nil {
		return nil, nil, err
	}
	if len(before) == 0 {
		return nil, after, nil
	}
	return &before[0], after, nil
}
