// Package auth is how Sightline lets a caller in when it listens on a
// network: API keys that carry a tenant and a role (ingest, read, admin),
// the keyring every surface checks them against (HTTP ingest, the read
// API, the Console, /metrics and, through collector/sightlineauth, the
// OTLP receivers), per-key rate limits, TLS with certificates reloaded
// without a restart, and the refusal to listen beyond loopback without
// any of it.
//
// A key is "slk_" followed by 43 base62 characters (256 random bits) and
// a 6-character checksum, so secret scanners recognise a leaked one and a
// mistyped one is refused without a lookup. Only the key's SHA-256 is
// stored (llm_api_keys in ClickHouse, or a keys file for a single node);
// the key is printed once, when it is created.
//
// The key decides the tenant, never the payload or a request parameter:
// handlers take the tenant from the Principal this package puts in the
// request's context, and the read queries carry it as a condition.
//
// This package must never log, store or return a key, and never let a
// request through whose Principal it has not set (a handler that finds
// none refuses: see FromContext).
package auth
