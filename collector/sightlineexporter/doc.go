// Package sightlineexporter is an OpenTelemetry Collector exporter
// (component type `sightline`) that turns LLM calls recorded as spans or
// log events into Sightline events and produces them to Kafka, one
// protobuf eventpb.Event per record, no key, on sightline.events.
//
// It recognizes the current GenAI semantic conventions (gen_ai.* attributes,
// gen_ai.input.messages / gen_ai.output.messages / gen_ai.system_instructions
// as JSON text on spans or structured values on log events, the
// gen_ai.client.inference.operation.details event), the older forms
// (gen_ai.system, prompt_tokens / completion_tokens, indexed
// gen_ai.prompt.N.* attributes as OpenLLMetry sends them, per-message
// events named by the record's event_name or an event.name attribute) and
// OpenInference (llm.*, llm.invocation_parameters, input.value /
// output.value, retrieval documents). Retrieval spans of the same trace in
// the same batch become the call's context. Everything else costs one pass
// over a span's attributes and is dropped.
//
// In both pipelines (traces and logs) under one component ID, a call's
// span and the log events carrying its trace and span id are joined into
// one event, whichever arrives first, within join.wait and join.max_pending
// (see joiner). Calls still waiting are produced at shutdown.
//
// Event ids are UUIDv7 whose time is the span start and whose other bits
// hash trace and span id: retries and replays deduplicate downstream.
//
// It must never fail a batch for what is in it: fields that cannot be
// mapped as sent are worked around and counted
// (sightline_collector_mapping_issues), calls that cannot become a valid
// event are dropped and counted (sightline_collector_events_dropped). Only
// the brokers' refusal fails a push, for exporterhelper to retry.
package sightlineexporter
