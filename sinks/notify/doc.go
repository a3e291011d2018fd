// Package notify delivers alert notifications to the outside world: a
// generic signed JSON webhook, Slack incoming webhooks, the Prometheus
// Alertmanager v2 API, templated job requests (Kubernetes Job, Argo,
// Airflow, CI dispatch) and a Kafka topic. Each is one small type behind
// the Action interface; a Dispatcher runs them on a bounded worker pool with
// a bounded queue, per-action timeouts and retries with exponential backoff
// and jitter.
//
// The alert engine sends each action what suits it: incidents (version 2
// notifications, one per firing of a rule's group, listing its series) to
// webhook, Slack, job and Kafka actions, and every series' own
// notification (version 1) to Alertmanager, which groups alerts itself.
// Version 2 keeps every version 1 field, describing the incident's worst
// series, so a receiver written for version 1 keeps working.
//
// It must never block its caller: Dispatcher.TryEnqueue returns at once,
// and a full queue drops the notification and reports it (the alert engine
// counts and records drops). A receiver that hangs costs a worker for at
// most Timeout × MaxAttempts plus the backoff, never the pipeline.
//
// # Webhook signature
//
// When an action has a secret, every request carries two headers:
//
//	X-Sightline-Timestamp: <unix seconds when the request was signed>
//	X-Sightline-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>
//
// The signed message is the decimal timestamp, one ".", and the raw request
// body bytes exactly as received. A receiver recomputes the HMAC with the
// shared secret, compares it in constant time, and rejects timestamps
// further than its tolerance (e.g. 5 minutes) from its clock, which stops
// replays of old requests. The signature header may list several
// comma-separated "v1=" values (during a secret rotation); one match is
// enough. VerifySignature does all of this for Go receivers.
//
// # Secrets in errors and outcomes
//
// Errors and Outcome bodies are stored (llm_alerts, llm_jobs), logged and
// served by the read API, so an HTTP action masks its secrets before they
// leave it (package internal/redact): the query values, user info and
// secret path segments of its URL (the Slack token even behind another
// host), the values of its sensitive headers (Authorization, X-Api-Key,
// ...) and its signing secret, wherever a receiver echoes them. An error
// quotes at most 256 bytes of the answer; the Outcome keeps MaxBody bytes.
// The Dispatcher redacts what any other Action returns before Record sees
// it.
//
// Retries resend the same body with a fresh timestamp and signature. Job
// requests also carry an Idempotency-Key header that is the same for every
// attempt and every notification of one incident, so a job API that
// deduplicates on it starts one job per incident.
package notify
