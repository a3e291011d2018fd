package schemas

// The Kafka topics every Sightline deployment uses: named once here, below
// the SDK, the collector exporter, the processors and the sinks.
const (
	// TopicEvents carries one encoded Event per LLM call (SDK, collector
	// exporter and ingest produce; the score stage consumes).
	TopicEvents = "sightline.events"
	// TopicDLQ receives the records the score stage rejects, with the
	// reason in a header.
	TopicDLQ = "sightline.dlq"
	// TopicPartials carries window partials and the score stage's progress
	// reports to the aggregate stage.
	TopicPartials = "sightline.partials"
	// TopicAlerts receives alert notifications of the kafka action.
	TopicAlerts = "sightline.alerts"
)
