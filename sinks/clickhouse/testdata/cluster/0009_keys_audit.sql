CREATE TABLE IF NOT EXISTS sightline.llm_api_keys_local ON CLUSTER sightline
(
    id String,
    hash String,
    name String,
    tenant String,
    role String,
    created_at DateTime,
    expires_at DateTime,
    revoked_at DateTime,
    created_by String,
    version UInt64
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/sightline/llm_api_keys_local', '{replica}', version)
ORDER BY id;

CREATE TABLE IF NOT EXISTS sightline.llm_api_keys ON CLUSTER sightline AS sightline.llm_api_keys_local
ENGINE = Distributed(sightline, sightline, llm_api_keys_local, cityHash64(id));

CREATE TABLE IF NOT EXISTS sightline.llm_audit_local ON CLUSTER sightline
(
    ts DateTime,
    ts_us UInt32,
    id String,
    actor String,
    actor_name String,
    actor_tenant String,
    actor_role String,
    action String,
    tenant String,
    target String,
    detail String,
    remote_addr String,
    outcome String
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/sightline/llm_audit_local', '{replica}')
PARTITION BY toYYYYMM(ts)
ORDER BY (ts, id);

CREATE TABLE IF NOT EXISTS sightline.llm_audit ON CLUSTER sightline AS sightline.llm_audit_local
ENGINE = Distributed(sightline, sightline, llm_audit_local, cityHash64(ts, id));
