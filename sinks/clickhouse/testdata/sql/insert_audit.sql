INSERT INTO llm_audit (ts, ts_us, id, actor, actor_name, actor_tenant, actor_role, action, tenant, target, detail, remote_addr, outcome)
