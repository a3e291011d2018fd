package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// FuzzParseKey: any string is either refused as ErrMalformed or has the
// exact form of a key, and the error never quotes the input.
func FuzzParseKey(f *testing.F) {
	k, _ := NewKey()
	for _, s := range []string{k, "", "slk_", k[:20], k + "x", strings.ToUpper(k), "slk_" + strings.Repeat("0", 49)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := ParseKey(s)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			if len(s) > 3 && strings.Contains(err.Error(), s) && !strings.Contains(ErrMalformed.Error(), s) {
				t.Fatalf("error quotes the input")
			}
			return
		}
		if len(s) != KeyLen || !strings.HasPrefix(s, KeyPrefix) || checksum(s[4:4+secretChars]) != s[4+secretChars:] {
			t.Fatalf("%q accepted", s)
		}
	})
}

// FuzzAuthHeader: any Authorization or X-API-Key header is refused with
// 401 or 403 and a JSON error, or lets in exactly the key it carries; the
// answer never echoes the header, and nothing panics.
func FuzzAuthHeader(f *testing.F) {
	store := &FileStore{Path: f.TempDir() + "/keys.json"}
	key, rec, _ := NewKeyRecord("acme", RoleRead, "fuzz", zeroTime, "test")
	if err := store.Add(context.Background(), rec); err != nil {
		f.Fatal(err)
	}
	ring, err := NewKeyring(context.Background(), store, Config{}, nil, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(ring.Close)
	g, _ := NewGuard(ring, Config{Enabled: true, RateLimit: RateLimitConfig{RequestsPerSecond: -1}}, nil)
	h := g.Require(SurfaceRead, RoleRead, false, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p, ok := FromContext(r.Context()); ok && p.KeyID == rec.ID && p.Tenant == "acme" {
			w.WriteHeader(299)
			return
		}
		w.WriteHeader(298)
	}))
	for _, s := range []string{"Bearer " + key, "Basic " + b64("x:"+key), "bearer  " + key + " ", "Bearer slk_", "Basic ", "Bearer " + key[:52] + "A", "\x00", "Basic " + b64("x:"+key) + "=", ""} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, v string, xAPIKey bool) {
		r := httptest.NewRequest("GET", "/v1/signals", nil)
		if xAPIKey {
			r.Header["X-Api-Key"] = []string{v}
		} else {
			r.Header["Authorization"] = []string{v}
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		switch w.Code {
		case 299:
			got, _ := KeyFromHeaders(r.Header)
			if got != key {
				t.Fatalf("let in with %q", v)
			}
		case http.StatusUnauthorized, http.StatusForbidden:
			if ct := w.Header().Get("Content-Type"); ct != "application/json" || !strings.HasPrefix(w.Body.String(), `{"error":`) {
				t.Fatalf("answer %q (%s)", w.Body.String(), ct)
			}
			if len(v) >= 8 && strings.Contains(w.Body.String(), v) {
				t.Fatalf("answer echoes the header: %s", w.Body.String())
			}
		default:
			t.Fatalf("status %d", w.Code)
		}
	})
}
