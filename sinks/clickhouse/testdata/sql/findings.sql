SELECT
	countIf(metric = 'drift' AND decision = 1), countIf(metric = 'drift'),
	countIf(metric = 'bias' AND decision = 1), countIf(metric = 'bias'),
	countIf(metric = 'ab_msprt' AND decision = 1), countIf(metric = 'ab_msprt')
FROM llm_signals FINAL
