SELECT event_id, ts, score, label, comment
FROM llm_feedback FINAL
WHERE tenant = ? AND target_event_id = ?
ORDER BY ts, event_id
LIMIT ?
