CREATE TABLE IF NOT EXISTS sightline.llm_alerts_local ON CLUSTER sightline
(
    alert_id String,
    rule String,
    fingerprint String,
    kind String,
    state String,
    severity String,
    tenant String,
    app String,
    model String,
    variant String,
    grp String,
    signal String,
    metric String,
    value Float64,
    threshold Float64,
    condition String,
    n UInt64,
    consecutive UInt32,
    window_start DateTime,
    window_seconds UInt32,
    started_at DateTime,
    notified_at DateTime,
    action String,
    action_type String,
    attempt UInt32,
    outcome String,
    status_code Int32,
    error String,
    duration_ms Float64,
    labels String,
    ts DateTime,
    seq UInt64
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/sightline/llm_alerts_local', '{replica}')
PARTITION BY toYYYYMM(ts)
ORDER BY (rule, fingerprint, seq);

CREATE TABLE IF NOT EXISTS sightline.llm_alerts ON CLUSTER sightline AS sightline.llm_alerts_local
ENGINE = Distributed(sightline, sightline, llm_alerts_local, cityHash64(fingerprint));

CREATE TABLE IF NOT EXISTS sightline.llm_jobs_local ON CLUSTER sightline
(
    idempotency_key String,
    alert_id String,
    rule String,
    fingerprint String,
    action String,
    method String,
    url String,
    tenant String,
    app String,
    model String,
    variant String,
    grp String,
    window_start DateTime,
    window_seconds UInt32,
    attempt UInt32,
    outcome String,
    status_code Int32,
    response String,
    error String,
    duration_ms Float64,
    ts DateTime,
    seq UInt64
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/sightline/llm_jobs_local', '{replica}')
PARTITION BY toYYYYMM(ts)
ORDER BY (idempotency_key, seq);

CREATE TABLE IF NOT EXISTS sightline.llm_jobs ON CLUSTER sightline AS sightline.llm_jobs_local
ENGINE = Distributed(sightline, sightline, llm_jobs_local, cityHash64(idempotency_key));
