// Package sightlineexporter is an OpenTelemetry Collector exporter
// (component type `sightline`) that turns LLM calls recorded as spans or
// log events into Sightline events and produces them to Kafka, one
// protobuf eventpb.Event per record, no key, on sightline.events.
//
// It recognizes the current GenAI semantic conventions (gen_ai.* attributes,
// gen_ai.input.messages / gen_ai.output.messages / gen_ai.system_instructions,
// the gen_ai.client.inference.operation.details event), the older forms
// (gen_ai.system, prompt_tokens / completion_tokens, indexed
// gen_ai.prompt.N.* attributes as OpenLLMetry sends them, per-message
// events) and OpenInference (llm.*, input.value / output.value, retrieval
// documents). Retrieval spans of the same trace in the same batch become
// the call's context. Everything else costs one pass over a span's
// attributes and is dropped.
//
// Event ids are UUIDv7 whose time is the span start and whose other bits
// hash trace and span id: retries and replays deduplicate downstream.
//
// It must never fail a batch for what is in it: fields that cannot be
// mapped as sent are worked around and counted
// (sightline_collector_mapping_issues_total), calls that cannot become a
// valid event are dropped and counted
// (sightline_collector_events_dropped_total). Only the brokers' refusal
// fails a push, for exporterhelper to retry.
//
// Limitation: older per-message log events (gen_ai.user.message, ...)
// carry no model; calls reported only that way are dropped as
// missing_model. Record content on the span (or use the details event).
package sightlineexporter
