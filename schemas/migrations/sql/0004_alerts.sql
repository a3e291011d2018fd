-- Alert history: one row per state change of an alert series (kind
-- 'state': pending, firing, resolved, inactive = a pending series that
-- cleared before firing; 'renotify' rows mark re-notifications) and one per
-- action attempt (kind 'action', with its outcome). The engine rebuilds its
-- state on start from the newest 'state'/'renotify' row of each
-- fingerprint (ORDER BY seq: ts has second resolution). Append-only log.
-- Cluster mode: the history of one series (or incident) on one shard.
-- sharding_key: llm_alerts cityHash64(fingerprint)
CREATE TABLE IF NOT EXISTS llm_alerts
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
ENGINE = MergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (rule, fingerprint, seq);

-- Job requests made by job actions: one row per attempt, with the
-- idempotency key of the firing episode, the receiver's status and the
-- start of its response body.
-- Cluster mode: the attempts of one job request on one shard.
-- sharding_key: llm_jobs cityHash64(idempotency_key)
CREATE TABLE IF NOT EXISTS llm_jobs
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
ENGINE = MergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (idempotency_key, seq);
