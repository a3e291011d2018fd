CREATE TABLE IF NOT EXISTS sightline.llm_events_local ON CLUSTER sightline
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
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/sightline/llm_events_local', '{replica}', ingested_at)
PARTITION BY toYYYYMM(ts)
ORDER BY (tenant, app, event_id);

CREATE TABLE IF NOT EXISTS sightline.llm_events ON CLUSTER sightline AS sightline.llm_events_local
ENGINE = Distributed(sightline, sightline, llm_events_local, cityHash64(event_id));

CREATE VIEW IF NOT EXISTS sightline.llm_events_dedup ON CLUSTER sightline AS SELECT * FROM sightline.llm_events FINAL;

CREATE TABLE IF NOT EXISTS sightline.llm_feedback_local ON CLUSTER sightline
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
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/sightline/llm_feedback_local', '{replica}', ingested_at)
PARTITION BY toYYYYMM(ts)
ORDER BY (tenant, target_event_id, event_id);

CREATE TABLE IF NOT EXISTS sightline.llm_feedback ON CLUSTER sightline AS sightline.llm_feedback_local
ENGINE = Distributed(sightline, sightline, llm_feedback_local, cityHash64(target_event_id));
