package auth

import (
	"errors"
	"strings"
	"testing"
)

func TestNewKeyParses(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 200; i++ {
		k, err := NewKey()
		if err != nil {
			t.Fatal(err)
		}
		if len(k) != KeyLen || !strings.HasPrefix(k, KeyPrefix) {
			t.Fatalf("key %q: want %d bytes starting %s", k, KeyLen, KeyPrefix)
		}
		if err := ParseKey(k); err != nil {
			t.Fatalf("a new key does not parse: %v", err)
		}
		if seen[k] {
			t.Fatal("the same key twice")
		}
		seen[k] = true
		if id := IDOf(Hash(k)); len(id) != 12 {
			t.Fatalf("id %q", id)
		}
	}
}

// Every single-character change of a key is refused by its form alone
// (the checksum catches a typo without a lookup).
func TestParseKeyRefusesTypos(t *testing.T) {
	k, _ := NewKey()
	for i := len(KeyPrefix); i < len(k); i++ {
		for _, c := range []byte{'0', 'a', 'Z'} {
			if k[i] == c {
				continue
			}
			bad := k[:i] + string(c) + k[i+1:]
			if err := ParseKey(bad); !errors.Is(err, ErrMalformed) {
				t.Fatalf("changing byte %d to %c: %v", i, c, err)
			}
		}
	}
	for _, s := range []string{"", "slk_", k[:len(k)-1], k + "0", "SLK_" + k[4:], "slk-" + k[4:], k[:10] + "-" + k[11:]} {
		if err := ParseKey(s); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: %v", s, err)
		}
	}
}

func TestKeyFromHeaders(t *testing.T) {
	k, _ := NewKey()
	for _, c := range []struct {
		name string
		h    map[string][]string
		want string
		err  error
	}{
		{"bearer", map[string][]string{"Authorization": {"Bearer " + k}}, k, nil},
		{"bearer lower-case scheme, grpc metadata", map[string][]string{"authorization": {"bearer " + k}}, k, nil},
		{"basic: the password is the key", map[string][]string{"Authorization": {"Basic " + b64("me:"+k)}}, k, nil},
		{"basic without user", map[string][]string{"Authorization": {"Basic " + b64(":"+k)}}, k, nil},
		{"x-api-key", map[string][]string{"X-Api-Key": {k}}, k, nil},
		{"x-sightline-key", map[string][]string{"X-Sightline-Key": {k}}, k, nil},
		{"x-sightline-key, grpc metadata", map[string][]string{"x-sightline-key": {" " + k}}, k, nil},
		{"none", map[string][]string{"Accept": {"*/*"}}, "", ErrNoKey},
		{"empty authorization", map[string][]string{"Authorization": {""}}, "", ErrMalformed},
		{"scheme only", map[string][]string{"Authorization": {"Bearer"}}, "", ErrMalformed},
		{"unknown scheme", map[string][]string{"Authorization": {"Token " + k}}, "", ErrMalformed},
		{"basic not base64", map[string][]string{"Authorization": {"Basic !!!"}}, "", ErrMalformed},
		{"basic without password", map[string][]string{"Authorization": {"Basic " + b64("me")}}, "", ErrMalformed},
		{"two tokens", map[string][]string{"Authorization": {"Bearer a b"}}, "", ErrMalformed},
		{"huge", map[string][]string{"Authorization": {"Bearer " + strings.Repeat("a", 10000)}}, "", ErrMalformed},
	} {
		got, err := KeyFromHeaders(c.h)
		if got != c.want || !errors.Is(err, c.err) {
			t.Errorf("%s: got %q, %v; want %q, %v", c.name, got, err, c.want, c.err)
		}
	}
}
