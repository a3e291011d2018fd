// Package lifecycle is the life of personal data in Sightline's ClickHouse:
// retention per tenant (the `retention:` section and the Task that `up`
// and `sightline aggregate` run on a schedule), and one user's data
// deleted (Forget) or written out as JSON lines (Export), which the CLI
// and the admin API call. Its SQL lives in sinks/clickhouse
// (lifecycle.go).
//
// What it must never do: delete a row of another tenant than the one it
// was asked about, or one younger than that tenant's retention; log or
// store a user id (the audit trail and reports name a user by
// AuditUserTarget's hash, the deletions select rows through a snapshot of
// event ids, so no statement ClickHouse keeps names the user); export or
// delete without writing the audit row (Export writes it before the first
// row, Forget with the outcome).
package lifecycle
