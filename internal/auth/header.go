package auth

import (
	"encoding/base64"
	"strings"
)

// maxHeaderKey bounds the header value this package looks at: a key is
// 53 bytes, its Basic form about 80; anything much longer is not a key.
const maxHeaderKey = 512

// KeyFromHeaders finds the key a request presents, in headers as HTTP
// (canonical names) or gRPC metadata (lower-case names) carry them:
//
//	Authorization: Bearer slk_...   (APIs, OTLP exporters, Prometheus)
//	Authorization: Basic base64(anything:slk_...)   (a browser's login prompt: the password is the key)
//	X-Sightline-Key: slk_...   (or X-API-Key)
//
// It returns "" with ErrNoKey when none is there and ErrMalformed when a
// header is there but holds no key in one of these forms. The key's form
// is not checked here (ParseKey does that).
func KeyFromHeaders(h map[string][]string) (string, error) {
	if v, ok := header(h, "Authorization"); ok {
		return keyFromAuthorization(v)
	}
	v, ok := header(h, "X-Sightline-Key")
	if !ok {
		v, ok = header(h, "X-Api-Key")
	}
	if ok {
		v = strings.TrimSpace(v)
		if v == "" || len(v) > maxHeaderKey {
			return "", ErrMalformed
		}
		return v, nil
	}
	return "", ErrNoKey
}

// header is the first value of name, looked up as given and lower-case.
func header(h map[string][]string, name string) (string, bool) {
	vs, ok := h[name]
	if !ok {
		vs, ok = h[strings.ToLower(name)]
	}
	if !ok || len(vs) == 0 {
		return "", false
	}
	return vs[0], true
}

func keyFromAuthorization(v string) (string, error) {
	if len(v) > maxHeaderKey {
		return "", ErrMalformed
	}
	scheme, rest, ok := strings.Cut(strings.TrimSpace(v), " ")
	if !ok {
		return "", ErrMalformed
	}
	rest = strings.TrimSpace(rest)
	switch {
	case strings.EqualFold(scheme, "Bearer"):
		if rest == "" || strings.ContainsAny(rest, " \t") {
			return "", ErrMalformed
		}
		return rest, nil
	case strings.EqualFold(scheme, "Basic"):
		b, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			return "", ErrMalformed
		}
		_, pass, ok := strings.Cut(string(b), ":")
		if !ok || pass == "" {
			return "", ErrMalformed
		}
		return pass, nil
	}
	return "", ErrMalformed
}
