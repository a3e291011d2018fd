SELECT partial FROM llm_baselines FINAL
WHERE name = ? AND tenant = ? AND app = ? AND model = ? AND variant = ? LIMIT 1
