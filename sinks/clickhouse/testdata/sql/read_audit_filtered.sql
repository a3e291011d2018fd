SELECT ts, ts_us, id, actor, actor_name, actor_tenant, actor_role, action, tenant, target, detail, remote_addr, outcome
FROM llm_audit WHERE ts >= toDateTime(?) AND ts < toDateTime(?) AND action = ? AND actor = ? AND outcome = ? AND target = ? AND tenant = ? AND (tenant = ? OR actor_tenant = ?)
ORDER BY ts, ts_us, id LIMIT 10
