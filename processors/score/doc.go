// Package score is the score stage: it consumes sightline.events in a
// consumer group, decodes and validates each record, sends rejects to the
// dead-letter topic with their reason, computes the per-event features and
// detector scores, and inserts the events into ClickHouse in bounded
// batches.
//
// Delivery is at-least-once: offsets are committed only after the batch's
// insert and its dead-letter records succeeded. A crash replays the
// uncommitted records; llm_events deduplicates them by event id. The stage
// never stops on bad data and never logs event content.
package score
