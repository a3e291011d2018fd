-- API keys and the audit trail (issue 12).
--
-- llm_api_keys holds one row per key and version: only the SHA-256 of the
-- key (hex), never the key itself. id is the first 12 hex digits of the
-- hash, shown by `sightline keys list` and named by `keys revoke`.
-- Revoking inserts the key's row again with revoked_at set and a higher
-- version; read with FINAL (the table holds a few rows per key). A zero
-- expires_at never expires; a zero revoked_at is not revoked.
CREATE TABLE IF NOT EXISTS llm_api_keys
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
ENGINE = ReplacingMergeTree(version)
ORDER BY id;
-- llm_audit records who read which call's content (the Console's call
-- detail, export), who created or revoked keys and who ran forget. actor is
-- the caller's key id ("cli:<user>@<host>" for a command run on a
-- machine); target names what was acted on (an event id, a key id, a hash
-- of a user id), never content. detail is a small JSON object (counts).
-- Rows are only ever appended.
CREATE TABLE IF NOT EXISTS llm_audit
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
ENGINE = MergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (ts, id);
