SELECT id, hash, name, tenant, role, created_at, expires_at, revoked_at, created_by, version
FROM llm_api_keys FINAL
WHERE id = ?
LIMIT 1
