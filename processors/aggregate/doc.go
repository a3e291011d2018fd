// Package aggregate is the streaming side of the signals: the collector
// that folds scored events into per-window partial aggregates in the score
// stage, and the aggregate stage that merges partials from
// sightline.partials, closes windows after the watermark plus the allowed
// lateness, computes the signals (processors/window) and writes them to
// llm_signals.
//
// Restart safety: offsets are committed only up to the first partial of the
// oldest still-open window, with the watermark and the consumed position in
// the commit metadata; after a restart, partials of windows already written
// are recognised as replays and skipped, open windows are rebuilt from
// their partials, and signal rows are idempotent (ReplacingMergeTree keyed
// by key, window and signal). Late partials (beyond the lateness) are
// counted, never merged into closed windows. Memory is bounded by
// keys × open windows × partial size, with a cap on tracked keys.
package aggregate
