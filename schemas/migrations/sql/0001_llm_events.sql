-- One row per LLM call. ReplacingMergeTree on the event id: a record
-- replayed after a crash is inserted again and collapses into one row on
-- merge; queries use FINAL or the llm_events_dedup view to see it once.
-- Types are limited to what ClickHouse 18.16 has (no DateTime64, Map,
-- LowCardinality, TTL): sub-second time is ts_us, maps are key/value arrays.
-- Cluster mode: every copy of an event on one shard, so FINAL (per shard) sees them together.
-- sharding_key: llm_events cityHash64(event_id)
CREATE TABLE IF NOT EXISTS llm_events
(
    event_id String,
    tenant String,
    app String,
    environment String,
    ts DateTime,
    ts_us UInt32,
    duration_ms Float64,
    ttft_ms Nullable(Float64),
    provider String,
    operation String,
    request_model String,
    model String,
    prompt_roles Array(String),
    prompt_contents Array(String),
    completion_roles Array(String),
    completion_contents Array(String),
    finish_reasons Array(String),
    input_tokens Int64,
    output_tokens Int64,
    cost_usd Float64,
    error_type String,
    error_message String,
    trace_id String,
    span_id String,
    conversation_id String,
    user_id String,
    prompt_template_id String,
    prompt_template_version String,
    variant String,
    context Array(String),
    reference String,
    segment_keys Array(String),
    segment_values Array(String),
    attribute_keys Array(String),
    attribute_values Array(String),
    embedding Array(Float32),
    sdk_name String,
    sdk_version String,
    response_id String,
    truncated UInt8,
    prompt_chars UInt32,
    completion_chars UInt32,
    context_chars UInt32,
    prompt_messages UInt16,
    completion_messages UInt16,
    context_items UInt16,
    total_tokens Int64,
    output_tokens_per_second Float64,
    has_context UInt8,
    has_reference UInt8,
    is_error UInt8,
    kafka_partition Int32,
    kafka_offset Int64,
    ingested_at DateTime
)
ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(ts)
ORDER BY (tenant, app, event_id);

-- The deduplicated view: every event exactly once.
CREATE VIEW IF NOT EXISTS llm_events_dedup AS SELECT * FROM llm_events FINAL;

-- Feedback events (a user's score of an earlier call), deduplicated the
-- same way.
-- Cluster mode: feedback on the shard of the event it scores.
-- sharding_key: llm_feedback cityHash64(target_event_id)
CREATE TABLE IF NOT EXISTS llm_feedback
(
    event_id String,
    target_event_id String,
    tenant String,
    app String,
    ts DateTime,
    score Float64,
    label String,
    comment String,
    ingested_at DateTime
)
ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(ts)
ORDER BY (tenant, target_event_id, event_id);
