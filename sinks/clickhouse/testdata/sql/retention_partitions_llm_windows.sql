SELECT toString(toYYYYMM(window_start)) AS partition, tenant, count() AS rows, max(window_start) AS newest
FROM llm_windows
WHERE toYYYYMM(window_start) <= toYYYYMM(toDateTime(?))
GROUP BY partition, tenant
ORDER BY partition, tenant
