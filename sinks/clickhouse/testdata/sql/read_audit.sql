SELECT ts, ts_us, id, actor, actor_name, actor_tenant, actor_role, action, tenant, target, detail, remote_addr, outcome
FROM llm_audit WHERE ts >= toDateTime(?) AND ts < toDateTime(?)
ORDER BY ts, ts_us, id LIMIT 10
