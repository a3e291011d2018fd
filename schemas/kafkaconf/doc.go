// Package kafkaconf is the one shape of a Kafka connection's settings:
// seed brokers, TLS and SASL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512). The
// config file's kafka: section, the collector exporter, the SDK and loadgen
// all read it, validate it with Validate and turn it into franz-go options
// with Opts, so a broker that works for one works for all.
//
// It sits below sdk/, collector/ and processors/ and imports nothing of
// them: applications link it through the SDK. It must never log, and its
// errors must never carry a password; they name the setting instead.
package kafkaconf
