// Package clickhouse is Sightline's ClickHouse sink: connection set-up, the
// migration runner for the embedded schema (schemas/migrations), and the
// batch writer for llm_events.
//
// Every insert names its columns (ClickHouse 18.16 needs it for batch
// inserts). Writes are idempotent by design: tables are ReplacingMergeTree
// on the row's key, so a retried or replayed batch never shows twice in a
// FINAL query. The writer never logs row content.
package clickhouse
