// Package schemas is the Sightline event contract: the protobuf message
// (package eventpb, generated from proto/ by `make generate`), its JSON
// form, validation with errors that name the field, size limits, and the
// ClickHouse migrations (package schemas/migrations).
//
// Everything that reads events from outside the process goes through Decode
// or DecodeJSON followed by Validate; neither ever panics on any input.
package schemas
