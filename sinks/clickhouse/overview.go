package clickhouse

import (
	"context"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// The `sightline summary` read-back: what is stored, in a few queries over
// everything (a demo's or a test's data, not a production table's worth).

// AppModelCount is the events of one app and model.
type AppModelCount struct {
	App, Model     string
	Events, Errors uint64
	P50, P90, P99  float64 // duration_ms
	Tokens         int64
	CostUSD        float64
}

// EventTotals is every stored event, deduplicated.
type EventTotals struct {
	Events, Truncated uint64
	P50, P90, P99     float64
	PerApp            []AppModelCount
}

const (
	eventsPerAppQuery = `SELECT app, model, count() AS n, sum(is_error),
	quantiles(0.5, 0.9, 0.99)(duration_ms), sum(total_tokens), sum(cost_usd)
FROM llm_events FINAL
GROUP BY app, model
ORDER BY app, model`
	eventTotalsQuery = `SELECT count(), sum(truncated), quantiles(0.5, 0.9, 0.99)(duration_ms) FROM llm_events FINAL`
)

func three(q []float64) (a, b, c float64) {
	if len(q) == 3 {
		return q[0], q[1], q[2]
	}
	return 0, 0, 0
}

// StoredEvents summarises llm_events.
func StoredEvents(ctx context.Context, conn driver.Conn) (EventTotals, error) {
	var t EventTotals
	rows, err := conn.Query(ctx, eventsPerAppQuery)
	if err != nil {
		return t, fmt.Errorf("cannot query llm_events: %w", err)
	}
	for rows.Next() {
		var a AppModelCount
		var q []float64
		if err := rows.Scan(&a.App, &a.Model, &a.Events, &a.Errors, &q, &a.Tokens, &a.CostUSD); err != nil {
			rows.Close()
			return t, fmt.Errorf("cannot read llm_events summary: %w", err)
		}
		a.P50, a.P90, a.P99 = three(q)
		t.PerApp = append(t.PerApp, a)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return t, fmt.Errorf("cannot read llm_events summary: %w", err)
	}
	var q []float64
	if err := conn.QueryRow(ctx, eventTotalsQuery).Scan(&t.Events, &t.Truncated, &q); err != nil {
		return t, fmt.Errorf("cannot query llm_events: %w", err)
	}
	t.P50, t.P90, t.P99 = three(q)
	return t, nil
}

// AppRates is the outcome rates of one app over the closed base windows
// (events-weighted), and its worst window's toxicity rate (windows of at
// least 20 events).
type AppRates struct {
	App                                                      string
	Windows                                                  uint64
	Toxicity, Hallucination, Refusal, PII, Injection, Errors float64
	MaxToxicity                                              float64
}

// SignalTotals is what the aggregate stage wrote.
type SignalTotals struct {
	KeyWindows, Rows                          uint64
	PerApp                                    []AppRates
	Drift, DriftAll, Bias, BiasAll, AB, ABAll uint64
}

const (
	signalWindowsQuery = `SELECT uniqExact(tenant, app, model, variant, window_start, window_seconds), count()
FROM llm_signals FINAL WHERE signal = 'events' AND grp = ''`
	appRatesQuery = `SELECT app, uniqExact(window_start),
	sumIf(value * n, signal = 'toxicity') / greatest(sumIf(n, signal = 'toxicity'), 1),
	sumIf(value * n, signal = 'hallucination') / greatest(sumIf(n, signal = 'hallucination'), 1),
	sumIf(value * n, signal = 'refusal') / greatest(sumIf(n, signal = 'refusal'), 1),
	sumIf(value * n, signal = 'pii') / greatest(sumIf(n, signal = 'pii'), 1),
	sumIf(value * n, signal = 'prompt_injection') / greatest(sumIf(n, signal = 'prompt_injection'), 1),
	sumIf(value * n, signal = 'error') / greatest(sumIf(n, signal = 'error'), 1),
	maxIf(value, signal = 'toxicity' AND n >= 20)
FROM llm_signals FINAL
WHERE metric = 'rate' AND grp = '' AND window_seconds = (SELECT min(window_seconds) FROM llm_signals)
GROUP BY app ORDER BY app`
	findingsQuery = `SELECT
	countIf(metric = 'drift' AND decision = 1), countIf(metric = 'drift'),
	countIf(metric = 'bias' AND decision = 1), countIf(metric = 'bias'),
	countIf(metric = 'ab_msprt' AND decision = 1), countIf(metric = 'ab_msprt')
FROM llm_signals FINAL`
)

// StoredSignals summarises llm_signals.
func StoredSignals(ctx context.Context, conn driver.Conn) (SignalTotals, error) {
	var t SignalTotals
	if err := conn.QueryRow(ctx, signalWindowsQuery).Scan(&t.KeyWindows, &t.Rows); err != nil {
		return t, fmt.Errorf("cannot query llm_signals: %w", err)
	}
	if t.KeyWindows == 0 {
		return t, nil
	}
	rows, err := conn.Query(ctx, appRatesQuery)
	if err != nil {
		return t, fmt.Errorf("cannot query llm_signals: %w", err)
	}
	for rows.Next() {
		var a AppRates
		if err := rows.Scan(&a.App, &a.Windows, &a.Toxicity, &a.Hallucination, &a.Refusal, &a.PII, &a.Injection, &a.Errors, &a.MaxToxicity); err != nil {
			rows.Close()
			return t, fmt.Errorf("cannot read llm_signals: %w", err)
		}
		t.PerApp = append(t.PerApp, a)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return t, fmt.Errorf("cannot read llm_signals: %w", err)
	}
	if err := conn.QueryRow(ctx, findingsQuery).Scan(&t.Drift, &t.DriftAll, &t.Bias, &t.BiasAll, &t.AB, &t.ABAll); err != nil {
		return t, fmt.Errorf("cannot query llm_signals: %w", err)
	}
	return t, nil
}
