INSERT INTO llm_api_keys (id, hash, name, tenant, role, created_at, expires_at, revoked_at, created_by, version)
