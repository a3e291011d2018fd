SELECT toString(toYYYYMM(event_ts)) AS partition, tenant, count() AS rows, max(event_ts) AS newest
FROM llm_evaluations
WHERE toYYYYMM(event_ts) <= toYYYYMM(toDateTime(?))
GROUP BY partition, tenant
ORDER BY partition, tenant
