-- One row per key, window and signal (drift, bias, rates, quantiles, A/B).
-- Rows are idempotent: a recomputed window (after a restart) replaces its
-- rows by key; query with FINAL.
-- Cluster mode: all rows of one key on one shard.
-- sharding_key: llm_signals cityHash64(tenant, app, model, variant)
CREATE TABLE IF NOT EXISTS llm_signals
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
ENGINE = ReplacingMergeTree(computed_at)
PARTITION BY toYYYYMM(window_start)
ORDER BY (tenant, app, model, variant, signal, metric, grp, window_seconds, window_start);

-- Closed windows' merged partial aggregates (encoded), so rolling and
-- pinned baselines survive restarts and a window costs only its own data.
-- Cluster mode: all windows of one key on one shard.
-- sharding_key: llm_windows cityHash64(tenant, app, model, variant)
CREATE TABLE IF NOT EXISTS llm_windows
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
ENGINE = ReplacingMergeTree(computed_at)
PARTITION BY toYYYYMM(window_start)
ORDER BY (tenant, app, model, variant, window_seconds, window_start);

-- Stored reference distributions (pinned baselines): a named, merged
-- partial per key over a time range.
-- Cluster mode: a key's baselines with its windows.
-- sharding_key: llm_baselines cityHash64(tenant, app, model, variant)
CREATE TABLE IF NOT EXISTS llm_baselines
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
ENGINE = ReplacingMergeTree(created_at)
ORDER BY (name, tenant, app, model, variant);
