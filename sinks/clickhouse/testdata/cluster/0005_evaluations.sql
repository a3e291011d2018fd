CREATE TABLE IF NOT EXISTS sightline.llm_evaluations_local ON CLUSTER sightline
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
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/sightline/llm_evaluations_local', '{replica}', version)
PARTITION BY toYYYYMM(event_ts)
ORDER BY (job_id, event_id);

CREATE TABLE IF NOT EXISTS sightline.llm_evaluations ON CLUSTER sightline AS sightline.llm_evaluations_local
ENGINE = Distributed(sightline, sightline, llm_evaluations_local, cityHash64(event_id));

CREATE TABLE IF NOT EXISTS sightline.llm_eval_runs_local ON CLUSTER sightline
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
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/sightline/llm_eval_runs_local', '{replica}', version)
ORDER BY job_id;

CREATE TABLE IF NOT EXISTS sightline.llm_eval_runs ON CLUSTER sightline AS sightline.llm_eval_runs_local
ENGINE = Distributed(sightline, sightline, llm_eval_runs_local, cityHash64(job_id));
