-- Sequential A/B experiments: one row per look (a closed window in which
-- the treatment and the control both had events), with the experiment's
-- state after it (cumulative exact sufficient statistics of both arms, the
-- always-valid p-value and confidence sequence of every metric) and the
-- window's own statistics, as JSON in state. The aggregate stage continues
-- an experiment from its latest row after a restart, and replays the rows
-- after a corrected window. variant is the treatment. version orders
-- rewrites of a look (a replay after a correction); query with FINAL.
-- Cluster mode: every look of the experiments of one tenant, app and model on one shard.
-- sharding_key: llm_experiments cityHash64(tenant, app, model)
CREATE TABLE IF NOT EXISTS llm_experiments
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
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(window_start)
ORDER BY (tenant, app, model, control, variant, window_seconds, window_start);
