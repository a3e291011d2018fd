package otlp

import (
	"math"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers of the OTLP messages appendRequest writes
// (opentelemetry-proto: collector/logs/v1, logs/v1, common/v1,
// resource/v1). The tests decode the result with the collector's pdata.
const (
	requestResourceLogs = 1 // ExportLogsServiceRequest.resource_logs

	resourceLogsResource  = 1 // ResourceLogs.resource
	resourceLogsScopeLogs = 2 // ResourceLogs.scope_logs
	resourceAttributes    = 1 // Resource.attributes

	scopeLogsScope      = 1 // ScopeLogs.scope
	scopeLogsLogRecords = 2 // ScopeLogs.log_records
	scopeName           = 1 // InstrumentationScope.name

	logTime         = 1  // LogRecord.time_unix_nano, fixed64
	logAttributes   = 6  // LogRecord.attributes
	logTraceID      = 9  // LogRecord.trace_id, bytes
	logSpanID       = 10 // LogRecord.span_id, bytes
	logObservedTime = 11 // LogRecord.observed_time_unix_nano, fixed64
	logEventName    = 12 // LogRecord.event_name

	kvKey   = 1 // KeyValue.key
	kvValue = 2 // KeyValue.value
	anyStr  = 1 // AnyValue.string_value
	anyDbl  = 4 // AnyValue.double_value
)

// encoder writes ExportLogsServiceRequests; its buffers are reused from
// request to request (one encoder per exporter goroutine).
type encoder struct {
	records, record, res, scope []byte
	done                        []bool
}

// appendRequest appends the ExportLogsServiceRequest of recs to b: one
// ResourceLogs per tenant, app and environment, in the order they first
// appear. Each resource's log records are encoded once into a scratch
// buffer and copied once into b behind headers whose lengths are computed,
// not encoded twice.
func (e *encoder) appendRequest(b []byte, recs []record, now time.Time) []byte {
	observed := uint64(now.UnixNano())
	if cap(e.done) < len(recs) {
		e.done = make([]bool, len(recs))
	}
	e.done = e.done[:len(recs)]
	clear(e.done)
	e.scope = appendString(e.scope[:0], scopeName, "sightline")
	for i := range recs {
		if e.done[i] {
			continue
		}
		r := &recs[i]
		e.records = e.records[:0]
		for j := i; j < len(recs); j++ {
			o := &recs[j]
			if e.done[j] || o.tenant != r.tenant || o.app != r.app || o.env != r.env {
				continue
			}
			e.done[j] = true
			for k := range o.evals {
				e.record = appendLogRecord(e.record[:0], o, &o.evals[k], observed)
				e.records = appendMessage(e.records, scopeLogsLogRecords, e.record)
			}
		}
		e.res = appendKVString(e.res[:0], resourceAttributes, "service.name", r.app)
		if r.env != "" {
			e.res = appendKVString(e.res, resourceAttributes, "deployment.environment.name", r.env)
		}
		if r.tenant != "" {
			e.res = appendKVString(e.res, resourceAttributes, "sightline.tenant", r.tenant)
		}
		scopeLogsLen := protowire.SizeTag(scopeLogsScope) + protowire.SizeBytes(len(e.scope)) + len(e.records)
		rlLen := protowire.SizeTag(resourceLogsResource) + protowire.SizeBytes(len(e.res)) +
			protowire.SizeTag(resourceLogsScopeLogs) + protowire.SizeBytes(scopeLogsLen)
		b = protowire.AppendTag(b, requestResourceLogs, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(rlLen))
		b = appendMessage(b, resourceLogsResource, e.res)
		b = protowire.AppendTag(b, resourceLogsScopeLogs, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(scopeLogsLen))
		b = appendMessage(b, scopeLogsScope, e.scope)
		b = append(b, e.records...)
	}
	return b
}

func appendLogRecord(b []byte, r *record, x *evaluation, observed uint64) []byte {
	if r.ts != 0 {
		b = protowire.AppendTag(b, logTime, protowire.Fixed64Type)
		b = protowire.AppendFixed64(b, r.ts)
	}
	b = appendKVString(b, logAttributes, "event.name", EventName)
	b = appendKVString(b, logAttributes, "gen_ai.evaluation.name", x.name)
	b = appendKVDouble(b, logAttributes, "gen_ai.evaluation.score.value", x.value)
	b = appendKVString(b, logAttributes, "gen_ai.evaluation.score.label", x.label)
	if x.explanation != "" {
		b = appendKVString(b, logAttributes, "gen_ai.evaluation.explanation", x.explanation)
	}
	if r.responseID != "" {
		b = appendKVString(b, logAttributes, "gen_ai.response.id", r.responseID)
	}
	if r.model != "" {
		b = appendKVString(b, logAttributes, "gen_ai.response.model", r.model)
	}
	b = appendKVString(b, logAttributes, "sightline.event_id", r.event)
	if r.traced {
		b = protowire.AppendTag(b, logTraceID, protowire.BytesType)
		b = protowire.AppendBytes(b, r.traceID[:])
		b = protowire.AppendTag(b, logSpanID, protowire.BytesType)
		b = protowire.AppendBytes(b, r.spanID[:])
	}
	b = protowire.AppendTag(b, logObservedTime, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, observed)
	return appendString(b, logEventName, EventName)
}

// appendKVString appends a KeyValue with a string value as field num.
func appendKVString(b []byte, num protowire.Number, key, val string) []byte {
	anyLen := protowire.SizeTag(anyStr) + protowire.SizeBytes(len(val))
	kvLen := protowire.SizeTag(kvKey) + protowire.SizeBytes(len(key)) + protowire.SizeTag(kvValue) + protowire.SizeBytes(anyLen)
	b = protowire.AppendTag(b, num, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(kvLen))
	b = appendString(b, kvKey, key)
	b = protowire.AppendTag(b, kvValue, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(anyLen))
	b = protowire.AppendTag(b, anyStr, protowire.BytesType)
	return protowire.AppendString(b, val)
}

// appendKVDouble appends a KeyValue with a double value as field num.
func appendKVDouble(b []byte, num protowire.Number, key string, v float64) []byte {
	anyLen := protowire.SizeTag(anyDbl) + protowire.SizeFixed64()
	kvLen := protowire.SizeTag(kvKey) + protowire.SizeBytes(len(key)) + protowire.SizeTag(kvValue) + protowire.SizeBytes(anyLen)
	b = protowire.AppendTag(b, num, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(kvLen))
	b = appendString(b, kvKey, key)
	b = protowire.AppendTag(b, kvValue, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(anyLen))
	b = protowire.AppendTag(b, anyDbl, protowire.Fixed64Type)
	return protowire.AppendFixed64(b, math.Float64bits(v))
}

// appendString writes a string field, always (empty strings too).
func appendString(b []byte, num protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

// appendMessage writes an embedded message already encoded in m.
func appendMessage(b []byte, num protowire.Number, m []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, m)
}
