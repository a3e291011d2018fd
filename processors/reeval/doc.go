// Package reeval is the GPU re-evaluation job behind `sightline reeval`:
// it reads the events of a scope and time range (or of an alert's key and
// windows) from llm_events, asks an LLM judge behind an OpenAI-compatible
// chat-completions endpoint for a structured verdict on each (toxicity,
// hallucination given the context or reference, bias), stores the verdicts
// in llm_evaluations and a summary row per job in llm_eval_runs: the judge's
// rates and the agreement (precision, recall, F1) of the online detectors
// with the judge.
//
// A job is resumable: verdicts are keyed by (job id, event id), and a rerun
// of the same job sends only the events without a valid verdict.
//
// What it must never do: crash or stop on a bad judge answer (an unusable
// verdict is recorded as invalid with its reason), hold more than a page of
// events in memory, send more than Config.Concurrency requests at once,
// log event content, or store or print the judge's API key or the
// credentials of its URL (errors and failed answers are redacted with
// internal/redact before llm_evaluations and the output see them).
package reeval
