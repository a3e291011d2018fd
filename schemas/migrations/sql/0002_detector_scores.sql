-- Per-event detector scores. Nullable: a score is NULL when its detector
-- had nothing to check (e.g. hallucination without context or reference),
-- was disabled, or failed on that event (named in detector_errors).
-- Evidence never holds a raw PII value (it is redacted before storage).
-- ClickHouse 18.16 has no ADD COLUMN IF NOT EXISTS: the runner skips an
-- ADD COLUMN whose column already exists, which keeps this idempotent.
ALTER TABLE llm_events ADD COLUMN completion_toxicity Nullable(Float32);
ALTER TABLE llm_events ADD COLUMN prompt_toxicity Nullable(Float32);
ALTER TABLE llm_events ADD COLUMN toxicity_evidence Array(String);
ALTER TABLE llm_events ADD COLUMN hallucination Nullable(Float32);
ALTER TABLE llm_events ADD COLUMN grounding Nullable(Float32);
ALTER TABLE llm_events ADD COLUMN unsupported_spans Array(String);
ALTER TABLE llm_events ADD COLUMN rouge_l Nullable(Float32);
ALTER TABLE llm_events ADD COLUMN bleu Nullable(Float32);
ALTER TABLE llm_events ADD COLUMN token_f1 Nullable(Float32);
ALTER TABLE llm_events ADD COLUMN exact_match Nullable(Float32);
ALTER TABLE llm_events ADD COLUMN pii_kinds Array(String);
ALTER TABLE llm_events ADD COLUMN prompt_injection Nullable(Float32);
ALTER TABLE llm_events ADD COLUMN injection_evidence Array(String);
ALTER TABLE llm_events ADD COLUMN refusal UInt8;
ALTER TABLE llm_events ADD COLUMN refusal_confidence Nullable(Float32);
ALTER TABLE llm_events ADD COLUMN detector_errors Array(String);

-- The view was created with the columns of its time; recreate it so it
-- shows the new ones.
DROP TABLE IF EXISTS llm_events_dedup;
CREATE VIEW IF NOT EXISTS llm_events_dedup AS SELECT * FROM llm_events FINAL;
