CREATE TABLE IF NOT EXISTS sightline.llm_signals_local ON CLUSTER sightline
(
    tenant String,
    app String,
    model String,
    variant String,
    window_start DateTime,
    window_seconds UInt32,
    signal String,
    metric String,
    grp String,
    value Float64,
    n UInt64,
    lo Nullable(Float64),
    hi Nullable(Float64),
    p_value Nullable(Float64),
    threshold Nullable(Float64),
    decision UInt8,
    baseline String,
    details String,
    computed_at DateTime
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/sightline/llm_signals_local', '{replica}', computed_at)
PARTITION BY toYYYYMM(window_start)
ORDER BY (tenant, app, model, variant, signal, metric, grp, window_seconds, window_start);

CREATE TABLE IF NOT EXISTS sightline.llm_signals ON CLUSTER sightline AS sightline.llm_signals_local
ENGINE = Distributed(sightline, sightline, llm_signals_local, cityHash64(tenant, app, model, variant));

CREATE TABLE IF NOT EXISTS sightline.llm_windows_local ON CLUSTER sightline
(
    tenant String,
    app String,
    model String,
    variant String,
    window_start DateTime,
    window_seconds UInt32,
    n UInt64,
    partial String,
    computed_at DateTime
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/sightline/llm_windows_local', '{replica}', computed_at)
PARTITION BY toYYYYMM(window_start)
ORDER BY (tenant, app, model, variant, window_seconds, window_start);

CREATE TABLE IF NOT EXISTS sightline.llm_windows ON CLUSTER sightline AS sightline.llm_windows_local
ENGINE = Distributed(sightline, sightline, llm_windows_local, cityHash64(tenant, app, model, variant));

CREATE TABLE IF NOT EXISTS sightline.llm_baselines_local ON CLUSTER sightline
(
    name String,
    tenant String,
    app String,
    model String,
    variant String,
    from_ts DateTime,
    to_ts DateTime,
    n UInt64,
    partial String,
    created_at DateTime
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/sightline/llm_baselines_local', '{replica}', created_at)
ORDER BY (name, tenant, app, model, variant);

CREATE TABLE IF NOT EXISTS sightline.llm_baselines ON CLUSTER sightline AS sightline.llm_baselines_local
ENGINE = Distributed(sightline, sightline, llm_baselines_local, cityHash64(tenant, app, model, variant));
