SELECT toString(toYYYYMM(ts)) AS partition, tenant, count() AS rows, max(ts) AS newest
FROM llm_events
WHERE toYYYYMM(ts) <= toYYYYMM(toDateTime(?))
GROUP BY partition, tenant
ORDER BY partition, tenant
