CREATE TABLE IF NOT EXISTS sightline.schema_migrations ON CLUSTER sightline
(
    version UInt32,
    name String,
    applied_at DateTime
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/all/sightline/schema_migrations', '{shard}-{replica}', applied_at)
ORDER BY version;
