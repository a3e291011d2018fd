CREATE TABLE IF NOT EXISTS sightline.llm_forget_local ON CLUSTER sightline
(
    request_id String,
    tenant String,
    event_id String,
    created_at DateTime
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/sightline/llm_forget_local', '{replica}')
PARTITION BY request_id
ORDER BY (tenant, event_id);

CREATE TABLE IF NOT EXISTS sightline.llm_forget ON CLUSTER sightline AS sightline.llm_forget_local
ENGINE = Distributed(sightline, sightline, llm_forget_local, cityHash64(event_id));
