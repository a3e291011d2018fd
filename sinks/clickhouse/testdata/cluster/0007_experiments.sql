CREATE TABLE IF NOT EXISTS sightline.llm_experiments_local ON CLUSTER sightline
(
    tenant String,
    app String,
    model String,
    variant String,
    control String,
    window_seconds UInt32,
    window_start DateTime,
    started DateTime,
    looks UInt32,
    control_n UInt64,
    treatment_n UInt64,
    state String,
    version UInt64
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/sightline/llm_experiments_local', '{replica}', version)
PARTITION BY toYYYYMM(window_start)
ORDER BY (tenant, app, model, control, variant, window_seconds, window_start);

CREATE TABLE IF NOT EXISTS sightline.llm_experiments ON CLUSTER sightline AS sightline.llm_experiments_local
ENGINE = Distributed(sightline, sightline, llm_experiments_local, cityHash64(tenant, app, model));
