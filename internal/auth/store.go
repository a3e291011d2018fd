package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

// Record is what is stored of a key: never the key, only its hash.
type Record struct {
	ID        string    `json:"id"`
	Hash      string    `json:"hash"`
	Name      string    `json:"name,omitempty"`
	Tenant    string    `json:"tenant"`
	Role      Role      `json:"role"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
	CreatedBy string    `json:"created_by,omitempty"`
}

// Usable reports why the key may not be used at now (nil: it may).
func (r Record) Usable(now time.Time) error {
	switch {
	case !r.RevokedAt.IsZero() && !now.Before(r.RevokedAt):
		return ErrRevoked
	case !r.ExpiresAt.IsZero() && !now.Before(r.ExpiresAt):
		return ErrExpired
	}
	return nil
}

// ErrNoSuchKey: no key has the id given to Revoke.
var ErrNoSuchKey = errors.New("no such key")

// Store keeps key records.
type Store interface {
	// List returns every key's newest record, at most limit (a caller
	// asks one more than it accepts, to notice too many).
	List(ctx context.Context, limit int) ([]Record, error)
	// Add stores a new key's record.
	Add(ctx context.Context, r Record) error
	// Revoke marks the key with this id revoked at the given time and
	// returns its record; ErrNoSuchKey when there is none.
	Revoke(ctx context.Context, id string, at time.Time) (Record, error)
}

// NewKeyRecord makes a key and its record; the key is returned once and
// never stored.
func NewKeyRecord(tenant string, role Role, name string, expires time.Time, createdBy string) (string, Record, error) {
	if err := ValidKeyScope(tenant, role); err != nil {
		return "", Record{}, err
	}
	key, err := NewKey()
	if err != nil {
		return "", Record{}, err
	}
	h := Hash(key)
	return key, Record{ID: IDOf(h), Hash: h, Name: name, Tenant: tenant, Role: role, CreatedAt: time.Now().UTC().Truncate(time.Second),
		ExpiresAt: expires, CreatedBy: createdBy}, nil
}

// ValidKeyScope checks a key's tenant and role: a known role, a tenant,
// and AllTenants only for read and admin keys (an ingest key's events
// need one tenant to be stored under).
func ValidKeyScope(tenant string, role Role) error {
	switch {
	case !role.Valid():
		return fmt.Errorf("cannot make a key: role must be ingest, read or admin, got %q", role)
	case tenant == "":
		return errors.New("cannot make a key: it needs a tenant (--tenant; '*' for a read or admin key of every tenant)")
	case tenant == AllTenants && role == RoleIngest:
		return errors.New("cannot make a key: an ingest key needs one tenant, not '*' (the key decides its events' tenant)")
	case len(tenant) > 256:
		return errors.New("cannot make a key: tenant longer than 256 bytes")
	}
	return nil
}

// ClickHouseStore keeps keys in llm_api_keys.
type ClickHouseStore struct{ Conn driver.Conn }

// List implements Store.
func (s ClickHouseStore) List(ctx context.Context, limit int) ([]Record, error) {
	rows, err := chsink.ListKeys(ctx, s.Conn, limit)
	if err != nil {
		return nil, err
	}
	out := make([]Record, len(rows))
	for i, k := range rows {
		out[i] = fromRow(k)
	}
	return out, nil
}

// Add implements Store.
func (s ClickHouseStore) Add(ctx context.Context, r Record) error {
	return chsink.InsertKey(ctx, s.Conn, chsink.KeyRow{ID: r.ID, Hash: r.Hash, Name: r.Name, Tenant: r.Tenant, Role: string(r.Role),
		CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt, RevokedAt: r.RevokedAt, CreatedBy: r.CreatedBy})
}

// Revoke implements Store.
func (s ClickHouseStore) Revoke(ctx context.Context, id string, at time.Time) (Record, error) {
	k, err := chsink.RevokeKey(ctx, s.Conn, id, at)
	if errors.Is(err, chsink.ErrNoKey) {
		return Record{}, fmt.Errorf("cannot revoke key %q: %w", id, ErrNoSuchKey)
	}
	return fromRow(k), err
}

func fromRow(k chsink.KeyRow) Record {
	return Record{ID: k.ID, Hash: k.Hash, Name: k.Name, Tenant: k.Tenant, Role: Role(k.Role), CreatedAt: k.CreatedAt,
		ExpiresAt: k.ExpiresAt, RevokedAt: k.RevokedAt, CreatedBy: k.CreatedBy}
}

// FileStore keeps keys in a JSON file (mode 0600), rewritten whole
// through a temporary file and a rename, so a reader never sees half of
// it. For one node: processes on other machines cannot see it.
type FileStore struct {
	Path string
	mu   sync.Mutex // serialises this process's writers
}

type keysFile struct {
	// Comment tells a reader what the file is.
	Comment string   `json:"comment"`
	Keys    []Record `json:"keys"`
}

const fileComment = "Sightline API keys: SHA-256 hashes only. Manage with `sightline keys create|list|revoke --keys-file`."

// List implements Store. A missing file holds no keys.
func (s *FileStore) List(_ context.Context, limit int) ([]Record, error) {
	f, err := s.read()
	if err != nil {
		return nil, err
	}
	if len(f.Keys) > limit {
		f.Keys = f.Keys[:limit]
	}
	return f.Keys, nil
}

func (s *FileStore) read() (keysFile, error) {
	var f keysFile
	b, err := os.ReadFile(s.Path)
	if errors.Is(err, os.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return f, fmt.Errorf("cannot read keys file (auth.keys_file): %w", err)
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return f, fmt.Errorf("cannot parse keys file %s (auth.keys_file): %w", s.Path, err)
	}
	return f, nil
}

func (s *FileStore) write(f keysFile) error {
	sort.Slice(f.Keys, func(i, j int) bool { return f.Keys[i].ID < f.Keys[j].ID })
	f.Comment = fileComment
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("cannot write keys file: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(s.Path), 0o700); err != nil {
		return fmt.Errorf("cannot write keys file: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.Path), ".keys-*.json")
	if err != nil {
		return fmt.Errorf("cannot write keys file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("cannot write keys file: %w", err)
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("cannot write keys file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("cannot write keys file: %w", err)
	}
	if err := os.Rename(tmp.Name(), s.Path); err != nil {
		return fmt.Errorf("cannot write keys file: %w", err)
	}
	return nil
}

// Add implements Store.
func (s *FileStore) Add(_ context.Context, r Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.read()
	if err != nil {
		return err
	}
	for _, k := range f.Keys {
		if k.ID == r.ID {
			return fmt.Errorf("cannot add key: id %s exists", r.ID)
		}
	}
	f.Keys = append(f.Keys, r)
	return s.write(f)
}

// Revoke implements Store.
func (s *FileStore) Revoke(_ context.Context, id string, at time.Time) (Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.read()
	if err != nil {
		return Record{}, err
	}
	for i, k := range f.Keys {
		if k.ID != id {
			continue
		}
		if k.RevokedAt.IsZero() {
			f.Keys[i].RevokedAt = at.UTC().Truncate(time.Second)
			if err := s.write(f); err != nil {
				return Record{}, err
			}
		}
		return f.Keys[i], nil
	}
	return Record{}, fmt.Errorf("cannot revoke key %q: %w", id, ErrNoSuchKey)
}
