// Package sightlineauth is an OpenTelemetry Collector extension that lets
// OTLP in only with a Sightline API key of role ingest (or admin), as
// POST /v1/events does: Authorization: Bearer slk_..., or an
// x-sightline-key header (gRPC metadata or HTTP).
//
// It is an authenticator (extensionauth.Server) for a receiver's
// `auth: {authenticator: sightlineauth}` (gRPC answers Unauthenticated,
// PermissionDenied or ResourceExhausted; the collector's HTTP server
// answers every refusal with 401), and an HTTP middleware
// (extensionmiddleware.HTTPServer) for `middlewares: [{id:
// sightlineauth}]` on the OTLP/HTTP receiver, which answers 401, 403 and
// 429 with Retry-After as the rest of Sightline does.
//
// An accepted request carries the key in its client.Info: Auth holds the
// attributes tenant, key_id and role, and the metadata key
// x-sightline-tenant (replacing any the sender set) holds the tenant, so a
// batch processor with metadata_keys: [x-sightline-tenant] keeps it.
//
// sightline-collector reads the keys from keys_file (written by
// `sightline keys --keys-file`); `sightline up --otlp` hands the extension
// its own guard instead (NewFactoryWithGuard). The extension must never
// log or store a key.
package sightlineauth
