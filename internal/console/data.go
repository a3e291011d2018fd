package console

import (
	"context"
	"fmt"
	"time"

	"github.com/sightline-dev/sightline/processors/window"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

// The Console's reads, each through the shared cache under a key that
// names every argument shaping its result (times as unix seconds).

func scopeKey(s chsink.ConsoleScope) string {
	return fmt.Sprintf("%q|%q|%q|%q|%d|%d", s.Tenant, s.App, s.Model, s.Variant, s.From.Unix(), s.To.Unix())
}

func (c *Console) liveStamp(ctx context.Context, tenant string) (string, error) {
	return read(ctx, c, "live_stamp", fmt.Sprintf("%q", tenant), func(ctx context.Context) (string, error) {
		return chsink.LiveStamp(ctx, c.conn, tenant)
	})
}

func (c *Console) keyWindows(ctx context.Context, s chsink.ConsoleScope) ([]chsink.KeyWindows, error) {
	return read(ctx, c, "key_windows", scopeKey(s), func(ctx context.Context) ([]chsink.KeyWindows, error) {
		return chsink.SignalKeyWindows(ctx, c.conn, s)
	})
}

// windowSize is a window size with signals in scope.
type windowSize struct {
	Seconds uint32
	Windows uint64
}

// sigKey is a key with signals in scope.
type sigKey struct {
	Tenant, App, Model, Variant string
	Calls                       float64
	Windows                     uint64
}

// sizesOf lists the window sizes of kws, smallest first.
func sizesOf(kws []chsink.KeyWindows) []windowSize {
	var out []windowSize
	for _, k := range kws {
		if n := len(out); n > 0 && out[n-1].Seconds == k.Seconds {
			out[n-1].Windows += k.Windows
		} else {
			out = append(out, windowSize{Seconds: k.Seconds, Windows: k.Windows})
		}
	}
	return out
}

// keysOf lists the keys with windows of size secs, busiest first (the
// read's order), at most maxKeys.
func keysOf(kws []chsink.KeyWindows, secs uint32) []sigKey {
	var out []sigKey
	for _, k := range kws {
		if k.Seconds == secs && len(out) < maxKeys {
			out = append(out, sigKey{Tenant: k.Tenant, App: k.App, Model: k.Model, Variant: k.Variant, Calls: k.Calls, Windows: k.Windows})
		}
	}
	return out
}

func (c *Console) overviewCalls(ctx context.Context, s chsink.ConsoleScope, env string, step uint32) (overviewData, error) {
	return read(ctx, c, "overview_calls", fmt.Sprintf("%s|%q|%d", scopeKey(s), env, step), func(ctx context.Context) (overviewData, error) {
		pts, total, err := chsink.OverviewCalls(ctx, c.conn, s, env, step)
		return overviewData{pts, total}, err
	})
}

type overviewData struct {
	Points []chsink.OverviewPoint
	Total  chsink.OverviewPoint
}

// knownKeys are the keys of the last week (the filter form's suggestions;
// one read a minute, shared), of one tenant when tenant is not empty.
func (c *Console) knownKeys(ctx context.Context, tenant string) ([]chsink.KeyWindows, error) {
	now := c.now().Truncate(time.Minute)
	s := chsink.ConsoleScope{Tenant: tenant, From: now.Add(-7 * 24 * time.Hour), To: now.Add(time.Minute)}
	return c.keyWindows(ctx, s)
}

func (c *Console) keySignals(ctx context.Context, s chsink.ConsoleScope, secs uint32, view chsink.ConsoleView, at time.Time) ([]chsink.KeySignal, error) {
	var atU int64
	if !at.IsZero() {
		atU = at.Unix()
	}
	return read(ctx, c, "key_signals_"+string(view), fmt.Sprint(scopeKey(s), secs, atU), func(ctx context.Context) ([]chsink.KeySignal, error) {
		return chsink.KeySignals(ctx, c.conn, s, secs, view, at, maxSignalRows)
	})
}

func (c *Console) flaggedSignals(ctx context.Context, s chsink.ConsoleScope) ([]chsink.FlaggedSignal, error) {
	return read(ctx, c, "flagged_signals", scopeKey(s), func(ctx context.Context) ([]chsink.FlaggedSignal, error) {
		return chsink.FlaggedSignals(ctx, c.conn, s, 20)
	})
}

func (c *Console) alertSeries(ctx context.Context, s chsink.ConsoleScope, firing bool) ([]chsink.AlertSeriesState, error) {
	s.From, s.To = time.Time{}, time.Time{} // states are current whatever the range
	return read(ctx, c, "alert_series", fmt.Sprint(scopeKey(s), firing), func(ctx context.Context) ([]chsink.AlertSeriesState, error) {
		return chsink.AlertSeries(ctx, c.conn, s, firing, 500)
	})
}

func (c *Console) alertEvents(ctx context.Context, s chsink.ConsoleScope, actions bool, rule string, before uint64) ([]chsink.AlertEvent, error) {
	return read(ctx, c, "alert_events", fmt.Sprint(scopeKey(s), actions, rule, before), func(ctx context.Context) ([]chsink.AlertEvent, error) {
		return chsink.AlertEvents(ctx, c.conn, s, actions, rule, before, listRows)
	})
}

func (c *Console) jobAttempts(ctx context.Context, s chsink.ConsoleScope, before uint64) ([]chsink.JobAttempt, error) {
	return read(ctx, c, "job_attempts", fmt.Sprint(scopeKey(s), before), func(ctx context.Context) ([]chsink.JobAttempt, error) {
		return chsink.JobAttempts(ctx, c.conn, s, before, listRows)
	})
}

func (c *Console) evalRuns(ctx context.Context, s chsink.ConsoleScope) ([]chsink.EvalRun, error) {
	return read(ctx, c, "eval_runs", scopeKey(s), func(ctx context.Context) ([]chsink.EvalRun, error) {
		return chsink.EvalRuns(ctx, c.conn, s, listRows)
	})
}

func (c *Console) alertThresholds(ctx context.Context, k sigKey) ([]chsink.AlertThreshold, error) {
	return read(ctx, c, "alert_thresholds", fmt.Sprintf("%q|%q|%q|%q", k.Tenant, k.App, k.Model, k.Variant),
		func(ctx context.Context) ([]chsink.AlertThreshold, error) {
			return chsink.AlertThresholds(ctx, c.conn, k.Tenant, k.App, k.Model, k.Variant)
		})
}

type callsPage struct {
	Calls []chsink.CallSummary
	More  bool
}

func (c *Console) listCalls(ctx context.Context, q chsink.CallQuery) (callsPage, error) {
	key := fmt.Sprintf("%s|%+v|%v|%v|%v|%+v", scopeKey(q.Scope), []any{q.Environment, q.Refusal, q.Error, q.PII, q.Template,
		q.TemplateVersion, q.User, q.Conversation, q.SegmentKey, q.SegmentValue, q.Sort, q.Ascending, q.Limit},
		ptrKey(q.MinToxicity), ptrKey(q.MinHallucination), ptrKey(q.MinInjection), cursorKey(q.After))
	return read(ctx, c, "list_calls", key, func(ctx context.Context) (callsPage, error) {
		calls, more, err := chsink.ListCalls(ctx, c.conn, q)
		return callsPage{calls, more}, err
	})
}

func ptrKey(p *float64) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprint(*p)
}

func cursorKey(p *chsink.CallCursor) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprintf("%v~%s", p.Value, p.EventID)
}

// windowPartials reads and merges the stored windows of a key in
// [from, to) (nil when none is stored).
func (c *Console) windowPartials(ctx context.Context, k window.Key, secs uint32, from, to int64) (*window.Partial, error) {
	return read(ctx, c, "windows_between", fmt.Sprint(k, secs, from, to), func(ctx context.Context) (*window.Partial, error) {
		parts, err := chsink.WindowsBetween(ctx, c.conn, k, secs, from, to)
		if err != nil {
			return nil, err
		}
		var merged *window.Partial
		for _, p := range parts {
			if merged == nil {
				merged = p
			} else if err := merged.Merge(p); err != nil {
				return nil, fmt.Errorf("cannot merge the stored windows: %w", err)
			}
		}
		return merged, nil
	})
}

func (c *Console) pinnedBaseline(ctx context.Context, name string, k window.Key) (*window.Partial, error) {
	return read(ctx, c, "load_baseline", fmt.Sprint(name, k), func(ctx context.Context) (*window.Partial, error) {
		return chsink.LoadBaseline(ctx, c.conn, name, k)
	})
}

// Bounds of what one page reads and draws.
const (
	maxKeys       = 200
	maxSignalRows = 50000
	listRows      = 200
	maxPoints     = 120 // points per overview series
	maxWindows    = 360 // windows per signal chart
	maxHeatCols   = 90
)
