package clickhouse

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sightline-dev/sightline/processors/stats"
	"github.com/sightline-dev/sightline/processors/window"
)

// SignalRow is one row of llm_signals.
type SignalRow struct {
	Key           window.Key
	WindowStart   int64
	WindowSeconds uint32
	Signal        window.Signal
	// ComputedAt is the row's version (llm_signals is a
	// ReplacingMergeTree on it); zero is the time of the insert.
	ComputedAt time.Time
	// Corrected marks a row of a window written again because partials
	// arrived after it was first written (the alert engine re-evaluates
	// such windows instead of skipping them as replays).
	Corrected bool
}

// SignalColumns is the explicit column list of llm_signals inserts.
var SignalColumns = []string{"tenant", "app", "model", "variant", "window_start", "window_seconds", "signal", "metric", "grp",
	"value", "n", "lo", "hi", "p_value", "threshold", "decision", "baseline", "details", "computed_at"}

var insertSignals = InsertStmt("llm_signals", SignalColumns)

func finite(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return f
}

// InsertSignals writes signal rows in one batch (one attempt).
func InsertSignals(ctx context.Context, conn driver.Conn, rows []SignalRow) error {
	if len(rows) == 0 {
		return nil
	}
	b, err := conn.PrepareBatch(ctx, insertSignals)
	if err != nil {
		return fmt.Errorf("cannot prepare llm_signals insert: %w", err)
	}
	now := time.Now().UTC()
	for _, r := range rows {
		s := r.Signal
		details := "{}"
		if len(s.Details) > 0 {
			if d, err := json.Marshal(s.Details); err == nil {
				details = string(d)
			}
		}
		var p, th *float64
		if s.PValue != nil {
			p = stats.FiniteOrNil(*s.PValue)
		}
		if s.Threshold != nil {
			th = stats.FiniteOrNil(*s.Threshold)
		}
		if err := b.Append(r.Key.Tenant, r.Key.App, r.Key.Model, r.Key.Variant, time.Unix(r.WindowStart, 0).UTC(), r.WindowSeconds,
			s.Name, s.Metric, s.Group, finite(s.Value), s.N, stats.FiniteOrNil(s.Lo), stats.FiniteOrNil(s.Hi), p, th,
			b2u(s.Decision), s.Baseline, details, versionOr(r.ComputedAt, now)); err != nil {
			_ = b.Abort()
			return fmt.Errorf("cannot append to llm_signals batch: %w", err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("cannot insert %d rows into llm_signals: %w", len(rows), err)
	}
	return nil
}

// WindowColumns is the explicit column list of llm_windows inserts.
var WindowColumns = []string{"tenant", "app", "model", "variant", "window_start", "window_seconds", "n", "partial", "computed_at"}

var insertWindows = InsertStmt("llm_windows", WindowColumns)

func versionOr(v, now time.Time) time.Time {
	if v.IsZero() {
		return now
	}
	return v.UTC()
}

// InsertWindows stores closed windows' merged partials (for baselines and
// corrections) with version (computed_at; zero is now).
func InsertWindows(ctx context.Context, conn driver.Conn, parts []*window.Partial, version time.Time) error {
	if len(parts) == 0 {
		return nil
	}
	b, err := conn.PrepareBatch(ctx, insertWindows)
	if err != nil {
		return fmt.Errorf("cannot prepare llm_windows insert: %w", err)
	}
	now := versionOr(version, time.Now().UTC())
	for _, p := range parts {
		enc, err := p.MarshalBinary()
		if err != nil {
			_ = b.Abort()
			return fmt.Errorf("cannot encode window: %w", err)
		}
		if err := b.Append(p.Key.Tenant, p.Key.App, p.Key.Model, p.Key.Variant, time.Unix(p.WindowStart, 0).UTC(), p.WindowSeconds,
			p.Count(), string(enc), now); err != nil {
			_ = b.Abort()
			return fmt.Errorf("cannot append to llm_windows batch: %w", err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("cannot insert %d rows into llm_windows: %w", len(parts), err)
	}
	return nil
}

// WindowsBetween reads the closed windows of a key that start in
// [from, to) (a rolling baseline block after a restart).
func WindowsBetween(ctx context.Context, conn driver.Conn, key window.Key, seconds uint32, from, to int64) ([]*window.Partial, error) {
	rows, err := conn.Query(ctx, windowsBetweenQuery,
		key.Tenant, key.App, key.Model, key.Variant, seconds, time.Unix(from, 0).UTC(), time.Unix(to, 0).UTC())
	if err != nil {
		return nil, fmt.Errorf("cannot read llm_windows: %w", err)
	}
	defer rows.Close()
	var out []*window.Partial
	for rows.Next() {
		var enc string
		if err := rows.Scan(&enc); err != nil {
			return nil, fmt.Errorf("cannot read llm_windows: %w", err)
		}
		p := new(window.Partial) // UnmarshalBinary replaces it whole
		if err := p.UnmarshalBinary([]byte(enc)); err != nil {
			continue // written by an incompatible version: not a baseline
		}
		p.Key = key
		out = append(out, p)
	}
	return out, rows.Err()
}

// StoredWindow is a written window's merged partial and its version.
type StoredWindow struct {
	Partial    *window.Partial
	ComputedAt time.Time
}

// WindowVariants reads the written windows of every variant of (tenant,
// app, model) at one window start and size: what a correction merges late
// partials into, and the A/B comparisons it must redo. Rows that do not
// decode (written by an incompatible version) are left out.
func WindowVariants(ctx context.Context, conn driver.Conn, tenant, app, model string, seconds uint32, start int64) ([]StoredWindow, error) {
	rows, err := conn.Query(ctx, windowVariantsQuery,
		tenant, app, model, seconds, time.Unix(start, 0).UTC())
	if err != nil {
		return nil, fmt.Errorf("cannot read llm_windows: %w", err)
	}
	defer rows.Close()
	var out []StoredWindow
	for rows.Next() {
		var variant, enc string
		var at time.Time
		if err := rows.Scan(&variant, &enc, &at); err != nil {
			return nil, fmt.Errorf("cannot read llm_windows: %w", err)
		}
		p := new(window.Partial)
		if err := p.UnmarshalBinary([]byte(enc)); err != nil {
			continue
		}
		p.Key = window.Key{Tenant: tenant, App: app, Model: model, Variant: variant}
		out = append(out, StoredWindow{Partial: p, ComputedAt: at})
	}
	return out, rows.Err()
}

// BaselineColumns is the explicit column list of llm_baselines inserts.
var BaselineColumns = []string{"name", "tenant", "app", "model", "variant", "from_ts", "to_ts", "n", "partial", "created_at"}

var insertBaselines = InsertStmt("llm_baselines", BaselineColumns)

// PinBaseline merges, per key, the closed windows of the given size in
// [from, to) from llm_windows and stores them as the named baseline. It
// returns the number of keys stored.
func PinBaseline(ctx context.Context, conn driver.Conn, name string, seconds uint32, from, to time.Time) (int, error) {
	rows, err := conn.Query(ctx, pinWindowsQuery, seconds, from.UTC(), to.UTC())
	if err != nil {
		return 0, fmt.Errorf("cannot read llm_windows: %w", err)
	}
	merged := map[window.Key]*window.Partial{}
	for rows.Next() {
		var k window.Key
		var enc string
		if err := rows.Scan(&k.Tenant, &k.App, &k.Model, &k.Variant, &enc); err != nil {
			rows.Close()
			return 0, fmt.Errorf("cannot read llm_windows: %w", err)
		}
		p := new(window.Partial)
		if err := p.UnmarshalBinary([]byte(enc)); err != nil {
			continue
		}
		p.Key = k
		if m := merged[k]; m != nil {
			if err := m.Merge(p); err != nil {
				continue
			}
		} else {
			merged[k] = p
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("cannot read llm_windows: %w", err)
	}
	if len(merged) == 0 {
		return 0, fmt.Errorf("no closed %ds windows between %s and %s to pin", seconds, from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	b, err := conn.PrepareBatch(ctx, insertBaselines)
	if err != nil {
		return 0, fmt.Errorf("cannot prepare llm_baselines insert: %w", err)
	}
	now := time.Now().UTC()
	for k, p := range merged {
		enc, err := p.MarshalBinary()
		if err != nil {
			_ = b.Abort()
			return 0, err
		}
		if err := b.Append(name, k.Tenant, k.App, k.Model, k.Variant, from.UTC(), to.UTC(), p.Count(), string(enc), now); err != nil {
			_ = b.Abort()
			return 0, fmt.Errorf("cannot append to llm_baselines batch: %w", err)
		}
	}
	if err := b.Send(); err != nil {
		return 0, fmt.Errorf("cannot insert into llm_baselines: %w", err)
	}
	return len(merged), nil
}

// LoadBaseline reads the named pinned baseline of a key (nil when absent).
func LoadBaseline(ctx context.Context, conn driver.Conn, name string, key window.Key) (*window.Partial, error) {
	rows, err := conn.Query(ctx, loadBaselineQuery,
		name, key.Tenant, key.App, key.Model, key.Variant)
	if err != nil {
		return nil, fmt.Errorf("cannot read llm_baselines: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, rows.Err()
	}
	var enc string
	if err := rows.Scan(&enc); err != nil {
		return nil, fmt.Errorf("cannot read llm_baselines: %w", err)
	}
	p := new(window.Partial)
	if err := p.UnmarshalBinary([]byte(enc)); err != nil {
		return nil, fmt.Errorf("baseline %q of %v is unreadable: %w", name, key, err)
	}
	return p, nil
}

const windowsBetweenQuery = `SELECT partial FROM llm_windows FINAL
WHERE tenant = ? AND app = ? AND model = ? AND variant = ? AND window_seconds = ? AND window_start >= ? AND window_start < ?
ORDER BY window_start`

const windowVariantsQuery = `SELECT variant, partial, computed_at FROM llm_windows FINAL
WHERE tenant = ? AND app = ? AND model = ? AND window_seconds = ? AND window_start = ?`

const pinWindowsQuery = `SELECT tenant, app, model, variant, partial FROM llm_windows FINAL
WHERE window_seconds = ? AND window_start >= ? AND window_start < ?`

const loadBaselineQuery = `SELECT partial FROM llm_baselines FINAL
WHERE name = ? AND tenant = ? AND app = ? AND model = ? AND variant = ? LIMIT 1`
