package redact

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// plantForms put a secret where redaction must find it; %s is the secret.
var plantForms = []string{
	`https://host.example/p?token=%s`,
	`https://host.example/p?a=1&access_token=%s&b=2`,
	`https://user:%s@host.example/p`,
	`https://%s@host.example/p`,
	`https://hooks.slack.com/services/T0/B0/%s`,
	`https://hooks.slack.com/workflows/T0/A0/1/%s`,
	`https://discord.com/api/webhooks/1/%s`,
	`https://acme.webhook.office.com/webhookb2/g@t/IncomingWebhook/%s/o`,
	`https://host.example/cb#%s`,
	`Post "https://host.example/x?sig=%s": dial tcp: connection refused`,
	`{"url":"https:\/\/host.example\/x?key=%s"}`,
	`Authorization: Bearer %s`,
	`"X-Api-Key": "%s"`,
	`map[Authorization:[Basic %s]]`,
	`client_secret=%s&x=1`,
	`{\"password\":\"%s\"}`,
	`Cookie: a=b; s=%s`,
	`sent Bearer %s`,
	`value %s echoed`, // known only through Secrets
}

// FuzzRedact: whatever surrounds a planted secret, String (and Secrets for
// values known as secret) never panics, never lets the secret through, and
// is idempotent on any input.
func FuzzRedact(f *testing.F) {
	f.Add("receiver answered 500:", "{\"ok\":false}", []byte("abc"), uint8(0))
	f.Add("", "", []byte{0xff, 0x10}, uint8(9))
	f.Add("token=", "&x", []byte("z"), uint8(11))
	f.Add("https://a/?", "#", []byte("secret"), uint8(4))
	f.Add("Bearer", "://x", []byte("q"), uint8(17))
	f.Add(`\"`, `\/\/`, []byte("1"), uint8(12))
	f.Fuzz(func(t *testing.T, before, after string, seed []byte, form uint8) {
		// The secret always mixes classes (a real credential does) and is
		// long enough to be known by value; letters and digits only, so it
		// cannot be confused with the text's structure.
		const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
		secret := []byte("Zq7")
		for _, b := range seed {
			secret = append(secret, alphabet[int(b)%len(alphabet)])
		}
		for len(secret) < 10 {
			secret = append(secret, alphabet[len(secret)*7%len(alphabet)])
		}
		s := string(secret)
		if strings.Contains(before, s) || strings.Contains(after, s) {
			return // the surrounding text holds the secret where nothing says so
		}
		planted := strings.Replace(plantForms[int(form)%len(plantForms)], "%s", s, 1)
		// Spaces keep the planted form a form of its own: text glued to a
		// URL changes what the URL is ("https://ahttps://...").
		in := before + " " + planted + " " + after

		out := NewSecrets(s).String(in)
		if strings.Contains(out, s) {
			t.Fatalf("secret %q kept:\n in %q\nout %q", s, in, out)
		}
		if form%uint8(len(plantForms)) != uint8(len(plantForms)-1) {
			if got := String(in); strings.Contains(got, s) {
				t.Fatalf("String kept secret %q:\n in %q\nout %q", s, in, got)
			}
		}
		for _, x := range []string{in, before, after} {
			once := String(x)
			if twice := String(once); twice != once {
				t.Fatalf("String not idempotent:\n  in %q\nonce %q\ntwice %q", x, once, twice)
			}
			if u := URL(x); URL(u) != u {
				t.Fatalf("URL not idempotent:\n  in %q\nonce %q\ntwice %q", x, u, URL(u))
			}
			if utf8.ValidString(x) && !utf8.ValidString(once) {
				t.Fatalf("String broke UTF-8: %q -> %q", x, once)
			}
		}
	})
}
