-- Re-evaluation verdicts: one row per job and event, written by
-- `sightline reeval` from an LLM judge's answer. ReplacingMergeTree on
-- (job_id, event_id) with a nanosecond version: a rerun of the same job
-- replaces an invalid or failed verdict, and FINAL shows one row per event.
-- valid = 0 rows keep the reason in error (and the judge's raw output,
-- cut to a few KB, in raw_response). hallucinated/hallucination_score are
-- NULL when the event had neither context nor a reference to check against.
-- detector_* are the online detector scores at judging time, so agreement
-- can be recomputed in SQL.
-- Cluster mode: a verdict on the shard of the event it judges.
-- sharding_key: llm_evaluations cityHash64(event_id)
CREATE TABLE IF NOT EXISTS llm_evaluations
(
    job_id String,
    event_id String,
    tenant String,
    app String,
    model String,
    variant String,
    event_ts DateTime,
    judge_model String,
    valid UInt8,
    error String,
    toxic UInt8,
    toxicity_score Float32,
    hallucinated Nullable(UInt8),
    hallucination_score Nullable(Float32),
    unsupported_claims Array(String),
    biased UInt8,
    bias_explanation String,
    detector_toxicity Nullable(Float32),
    detector_hallucination Nullable(Float32),
    raw_response String,
    attempts UInt16,
    latency_ms Float64,
    ts DateTime,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(event_ts)
ORDER BY (job_id, event_id);

-- One row per re-evaluation job: its scope, counts, the judge's rates and
-- the agreement of the online detectors with the judge. A rerun replaces
-- the row (query with FINAL). Undefined figures (no positives) are NULL.
-- Cluster mode: one run's versions on one shard.
-- sharding_key: llm_eval_runs cityHash64(job_id)
CREATE TABLE IF NOT EXISTS llm_eval_runs
(
    job_id String,
    alert_id String,
    tenant String,
    app String,
    model String,
    variant String,
    from_ts DateTime,
    to_ts DateTime,
    judge_model String,
    started_at DateTime,
    finished_at DateTime,
    events UInt64,
    skipped UInt64,
    judged UInt64,
    invalid UInt64,
    failed UInt64,
    verdicts UInt64,
    toxic_rate Nullable(Float64),
    hallucination_rate Nullable(Float64),
    bias_rate Nullable(Float64),
    toxicity_tp UInt64,
    toxicity_fp UInt64,
    toxicity_fn UInt64,
    toxicity_tn UInt64,
    toxicity_precision Nullable(Float64),
    toxicity_recall Nullable(Float64),
    toxicity_f1 Nullable(Float64),
    hallucination_tp UInt64,
    hallucination_fp UInt64,
    hallucination_fn UInt64,
    hallucination_tn UInt64,
    hallucination_precision Nullable(Float64),
    hallucination_recall Nullable(Float64),
    hallucination_f1 Nullable(Float64),
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY job_id;
