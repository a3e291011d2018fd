// Package window is the per-window aggregation behind Sightline's signals:
// the mergeable Partial that the score stage fills per key (tenant, app,
// model, variant) and event-time window and ships on sightline.partials,
// and the computation of the window's signals (rates, quantiles, drift
// against a baseline, bias across segment groups, A/B comparisons) that the
// aggregate stage runs when it closes a window. The offline reports
// (`sightline report drift|bias|ab`) run the same code over JSON lines.
//
// A Partial's memory is bounded by its Config (histogram edges, sketch
// ranges, sample sizes, group and category caps), never by the number of
// events, and merging partials is exact and order-independent, so a
// restarted aggregate stage that re-merges the same partials writes the same
// signal rows.
//
// The statistics come from processors/stats and its decide subpackage; this
// package must never reimplement a test they provide, keep raw event
// content (only hashed text features and capped, truncated labels), use
// global randomness, or panic on any partial it decodes.
package window
