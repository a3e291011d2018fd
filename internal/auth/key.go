package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"strings"
)

// KeyPrefix starts every Sightline API key, so secret scanners (and
// people) recognise one.
const KeyPrefix = "slk_"

const (
	base62       = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	secretChars  = 43 // 43 * log2(62) = 256.1 bits
	checkChars   = 6  // 62^6 > 2^32: a CRC-32 of the secret part
	KeyLen       = len(KeyPrefix) + secretChars + checkChars
	hashIDDigits = 12
)

// Role is what a key may do.
type Role string

// The roles. Admin may do everything the others may, and read the audit
// trail.
const (
	// RoleIngest sends events (POST /v1/events, OTLP).
	RoleIngest Role = "ingest"
	// RoleRead reads signals, alerts, summaries and the Console
	// (including a call's content, which is audited).
	RoleRead Role = "read"
	// RoleAdmin does both, and reads the audit trail.
	RoleAdmin Role = "admin"
)

// Roles lists the roles.
func Roles() []Role { return []Role{RoleIngest, RoleRead, RoleAdmin} }

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleIngest || r == RoleRead || r == RoleAdmin }

// Allows reports whether a key of role r may act as need.
func (r Role) Allows(need Role) bool { return r == RoleAdmin || r == need }

// AllTenants is the tenant of a read or admin key that acts for every
// tenant (an operator's). An ingest key always has one tenant.
const AllTenants = "*"

// Errors of a presented key. Each is answered with 401.
var (
	ErrNoKey     = errors.New("no API key: send it as Authorization: Bearer slk_...")
	ErrMalformed = errors.New("not a Sightline API key (want slk_ followed by 49 letters and digits)")
	ErrUnknown   = errors.New("unknown API key")
	ErrRevoked   = errors.New("API key revoked")
	ErrExpired   = errors.New("API key expired")
)

// NewKey returns a new random key.
func NewKey() (string, error) {
	var b strings.Builder
	b.Grow(KeyLen)
	b.WriteString(KeyPrefix)
	var buf [64]byte
	for n := 0; n < secretChars; {
		if _, err := rand.Read(buf[:]); err != nil {
			return "", fmt.Errorf("cannot make a key: %w", err)
		}
		for _, c := range buf {
			// Rejection sampling keeps every character uniform: 248 is
			// the largest multiple of 62 below 256.
			if c < 248 && n < secretChars {
				b.WriteByte(base62[c%62])
				n++
			}
		}
	}
	secret := b.String()[len(KeyPrefix):]
	b.WriteString(checksum(secret))
	return b.String(), nil
}

// checksum is the CRC-32 (IEEE) of the secret part in 6 base62 digits.
func checksum(secret string) string {
	v := crc32.ChecksumIEEE([]byte(secret))
	var out [checkChars]byte
	for i := checkChars - 1; i >= 0; i-- {
		out[i] = base62[v%62]
		v /= 62
	}
	return string(out[:])
}

// ParseKey checks that s has the form of a key (prefix, length, alphabet,
// checksum) without looking it up. The error never quotes s.
func ParseKey(s string) error {
	if len(s) != KeyLen || !strings.HasPrefix(s, KeyPrefix) {
		return ErrMalformed
	}
	body := s[len(KeyPrefix):]
	for i := 0; i < len(body); i++ {
		c := body[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
			return ErrMalformed
		}
	}
	if checksum(body[:secretChars]) != body[secretChars:] {
		return ErrMalformed
	}
	return nil
}

// Hash is what is stored of a key: its SHA-256 in hex. A key has 256
// random bits, so a fast hash is enough: nobody can search the space.
func Hash(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:])
}

// IDOf is a key's public id: the first 12 hex digits of its hash, shown by
// `keys list` and named by `keys revoke`.
func IDOf(hash string) string {
	if len(hash) < hashIDDigits {
		return hash
	}
	return hash[:hashIDDigits]
}
