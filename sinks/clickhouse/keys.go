package clickhouse

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// API keys (llm_api_keys, migration 0009): only a hash of each key is
// stored. internal/auth makes and checks keys; this file only stores and
// reads their records.

// KeyRow is one API key's record.
type KeyRow struct {
	// ID is the first 12 hex digits of Hash: what `keys list` shows and
	// `keys revoke` names.
	ID string
	// Hash is the hex SHA-256 of the key.
	Hash   string
	Name   string
	Tenant string
	Role   string
	// CreatedAt, ExpiresAt (zero: never) and RevokedAt (zero: not
	// revoked).
	CreatedAt, ExpiresAt, RevokedAt time.Time
	// CreatedBy is the audit actor that created it.
	CreatedBy string
	// Version orders a key's rows (llm_api_keys is a ReplacingMergeTree
	// on it); zero is the time of the insert in nanoseconds.
	Version uint64
}

// ErrNoKey says no key has the given id.
var ErrNoKey = errors.New("no such key")

// KeysTable is llm_api_keys's insert.
var KeysTable = NewTable("llm_api_keys",
	Col("id", func(r *KeyRow) any { return r.ID }),
	Col("hash", func(r *KeyRow) any { return r.Hash }),
	Col("name", func(r *KeyRow) any { return r.Name }),
	Col("tenant", func(r *KeyRow) any { return r.Tenant }),
	Col("role", func(r *KeyRow) any { return r.Role }),
	Col("created_at", func(r *KeyRow) any { return dateTimeOrZero(r.CreatedAt) }),
	Col("expires_at", func(r *KeyRow) any { return dateTimeOrZero(r.ExpiresAt) }),
	Col("revoked_at", func(r *KeyRow) any { return dateTimeOrZero(r.RevokedAt) }),
	Col("created_by", func(r *KeyRow) any { return r.CreatedBy }),
	Col("version", func(r *KeyRow) any { return r.Version }),
)

// dateTimeOrZero maps the zero time to 1970-01-01 (DateTime's zero), the
// value that means "never".
func dateTimeOrZero(t time.Time) time.Time {
	if t.IsZero() {
		return time.Unix(0, 0).UTC()
	}
	return t.UTC().Truncate(time.Second)
}

func zeroIfEpoch(t time.Time) time.Time {
	if t.Unix() <= 0 {
		return time.Time{}
	}
	return t.UTC()
}

// InsertKey writes a key's record (a new key, or a new version of one).
func InsertKey(ctx context.Context, conn driver.Conn, k KeyRow) error {
	if k.Version == 0 {
		k.Version = uint64(time.Now().UnixNano())
	}
	return KeysTable.Insert(ctx, conn, []KeyRow{k})
}

// listKeysQuery reads the newest version of every key. The table holds a
// few rows per key, so FINAL costs nothing; the limit bounds what a
// reader holds (the caller asks one more than it accepts).
const listKeysQuery = `SELECT id, hash, name, tenant, role, created_at, expires_at, revoked_at, created_by, version
FROM llm_api_keys FINAL
ORDER BY id
LIMIT ?`

// ListKeys reads every key's newest record, by id, at most limit.
func ListKeys(ctx context.Context, conn driver.Conn, limit int) ([]KeyRow, error) {
	rows, err := conn.Query(ctx, listKeysQuery, uint64(max(limit, 1)))
	if err != nil {
		return nil, fmt.Errorf("cannot read llm_api_keys: %w", err)
	}
	defer rows.Close()
	var out []KeyRow
	for rows.Next() {
		var k KeyRow
		if err := rows.Scan(&k.ID, &k.Hash, &k.Name, &k.Tenant, &k.Role, &k.CreatedAt, &k.ExpiresAt, &k.RevokedAt, &k.CreatedBy,
			&k.Version); err != nil {
			return nil, fmt.Errorf("cannot read llm_api_keys: %w", err)
		}
		k.CreatedAt, k.ExpiresAt, k.RevokedAt = k.CreatedAt.UTC(), zeroIfEpoch(k.ExpiresAt), zeroIfEpoch(k.RevokedAt)
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot read llm_api_keys: %w", err)
	}
	return out, nil
}

const getKeyQuery = `SELECT id, hash, name, tenant, role, created_at, expires_at, revoked_at, created_by, version
FROM llm_api_keys FINAL
WHERE id = ?
LIMIT 1`

// GetKey reads one key's newest record (ErrNoKey when there is none).
func GetKey(ctx context.Context, conn driver.Conn, id string) (KeyRow, error) {
	var k KeyRow
	err := conn.QueryRow(ctx, getKeyQuery, id).Scan(&k.ID, &k.Hash, &k.Name, &k.Tenant, &k.Role, &k.CreatedAt, &k.ExpiresAt,
		&k.RevokedAt, &k.CreatedBy, &k.Version)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return k, fmt.Errorf("cannot read key %q: %w", id, ErrNoKey)
	case err != nil:
		return k, fmt.Errorf("cannot read key %q from llm_api_keys: %w", id, err)
	}
	k.CreatedAt, k.ExpiresAt, k.RevokedAt = k.CreatedAt.UTC(), zeroIfEpoch(k.ExpiresAt), zeroIfEpoch(k.RevokedAt)
	return k, nil
}

// RevokeKey marks a key revoked at the given time (a new version of its
// record) and returns the record. Revoking a revoked key keeps its first
// revocation time.
func RevokeKey(ctx context.Context, conn driver.Conn, id string, at time.Time) (KeyRow, error) {
	k, err := GetKey(ctx, conn, id)
	if err != nil {
		return k, err
	}
	if !k.RevokedAt.IsZero() {
		return k, nil
	}
	k.RevokedAt = at.UTC().Truncate(time.Second)
	k.Version = max(uint64(time.Now().UnixNano()), k.Version+1)
	if err := InsertKey(ctx, conn, k); err != nil {
		return k, fmt.Errorf("cannot revoke key %q: %w", id, err)
	}
	return k, nil
}

// shortHash is the first 16 hex digits of SHA-256(s).
func shortHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:8])
}
