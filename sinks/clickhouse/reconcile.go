package clickhouse

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sightline-dev/sightline/processors/window"
)

// WindowCount is, for one key and window, the events the signals counted
// (the events/count row of llm_signals) and the events stored in
// llm_events, both deduplicated (FINAL).
type WindowCount struct {
	Key         window.Key
	WindowStart time.Time
	Signals     uint64
	Events      uint64
}

// reconcileWindows groups events by the aggregation key the score stage
// uses (aggregate.KeyOf: the requested model when the response named none,
// the prompt template's version when no variant is set). UNION ALL plus
// GROUP BY instead of a FULL JOIN: one form that ClickHouse 18.16 and
// current releases run alike.
const reconcileWindows = `SELECT tenant, app, k_model, k_variant, ws, sum(s) AS signals, sum(e) AS events FROM (
	SELECT tenant, app, model AS k_model, variant AS k_variant, window_start AS ws, toUInt64(value) AS s, toUInt64(0) AS e
	FROM llm_signals FINAL
	WHERE signal = 'events' AND metric = 'count' AND grp = '' AND window_seconds = ? AND window_start >= ? AND window_start < ?
	UNION ALL
	SELECT tenant, app, if(model = '', request_model, model) AS k_model,
		if(variant = '' AND prompt_template_version != '', concat('template:', prompt_template_version), variant) AS k_variant,
		toDateTime(intDiv(toUInt32(ts), ?) * ?) AS ws, toUInt64(0) AS s, count() AS e
	FROM llm_events FINAL
	WHERE ts >= ? AND ts < ?
	GROUP BY tenant, app, k_model, k_variant, ws
) GROUP BY tenant, app, k_model, k_variant, ws
ORDER BY ws, tenant, app, k_model, k_variant`

// ReconcileWindows compares, per key and window of the given size starting
// in [from, to), what the signals counted with the events stored: the check
// an operator runs after a fault (every row should have Signals ==
// Events once the windows closed). from and to are cut to whole windows.
func ReconcileWindows(ctx context.Context, conn driver.Conn, seconds uint32, from, to time.Time) ([]WindowCount, error) {
	secs := int64(seconds)
	f := time.Unix(from.Unix()-from.Unix()%secs, 0).UTC()
	t := time.Unix(to.Unix()-to.Unix()%secs, 0).UTC()
	rows, err := conn.Query(ctx, reconcileWindows, seconds, f, t, seconds, seconds, f, t)
	if err != nil {
		return nil, fmt.Errorf("cannot compare llm_signals with llm_events: %w", err)
	}
	defer rows.Close()
	var out []WindowCount
	for rows.Next() {
		var w WindowCount
		if err := rows.Scan(&w.Key.Tenant, &w.Key.App, &w.Key.Model, &w.Key.Variant, &w.WindowStart, &w.Signals, &w.Events); err != nil {
			return nil, fmt.Errorf("cannot compare llm_signals with llm_events: %w", err)
		}
		out = append(out, w)
	}
	return out, rows.Err()
}
