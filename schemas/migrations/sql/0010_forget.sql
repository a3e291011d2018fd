-- The event ids of one user while `sightline forget` deletes them (issue
-- 12). The deletions are ClickHouse mutations, whose text the server keeps
-- (system.mutations, the table's mutation_*.txt) long after they are
-- done; they select the rows through this table by a random request id,
-- so the user id never becomes part of that text. One partition per
-- request: forget drops it when done (a crashed run's partition is dropped
-- by the retention task a day later). Event ids are random UUIDs, not
-- personal data. Sharded like the calls, their feedback and verdicts (by
-- the call's id), so in cluster mode each shard's snapshot holds the ids
-- of that shard's rows.
-- sharding_key: llm_forget cityHash64(event_id)
CREATE TABLE IF NOT EXISTS llm_forget
(
    request_id String,
    tenant String,
    event_id String,
    created_at DateTime
)
ENGINE = MergeTree
PARTITION BY request_id
ORDER BY (tenant, event_id);
