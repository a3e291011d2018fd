package redact

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Mask replaces every secret.
const Mask = "***"

// URL returns raw with its secrets masked: user info becomes "***@", every
// query value "***" (names are kept), the fragment "***", a non-numeric
// port "***" (a password that lost its "@"), and secret path segments
// "***": the token of Slack (hooks.slack.com/services/T/B/<secret>,
// /workflows/..., /triggers/...), Discord (/api/webhooks/<id>/<token>),
// Microsoft Teams / Office 365 (everything after /IncomingWebhook/) and
// Telegram (/bot<token>/) webhooks, and any segment that looks like a
// random token (see looksRandom). Scheme, host and the rest of the path are
// kept byte for byte. raw need not parse: URL works on the text, the way
// Go's url.Parse splits it.
func URL(raw string) string { return redactURL(raw, nil) }

// redactURL is URL; found, when set, is called with each masked piece.
func redactURL(raw string, found func(string)) string {
	if raw == "" {
		return raw
	}
	hide := func(s string) string {
		if found != nil && s != "" {
			found(s)
		}
		return Mask
	}
	var b strings.Builder
	b.Grow(len(raw))
	rest := raw
	hasAuthority := false
	if i := strings.Index(rest, "://"); i >= 0 && (i == 0 || validScheme(rest[:i])) {
		b.WriteString(rest[:i+3])
		rest, hasAuthority = rest[i+3:], true
	} else if strings.HasPrefix(rest, "//") {
		b.WriteString("//")
		rest, hasAuthority = rest[2:], true
	} else if first, _, _ := cutAny(rest, "/?#"); strings.Contains(first, ".") {
		hasAuthority = true // host/path without a scheme
	}
	host := ""
	if hasAuthority {
		end := strings.IndexAny(rest, "/?#")
		if end < 0 {
			end = len(rest)
		}
		auth := rest[:end]
		rest = rest[end:]
		if at := strings.LastIndexByte(auth, '@'); at >= 0 {
			hide(auth[:at])
			user, pass, _ := strings.Cut(auth[:at], ":")
			if found != nil {
				if u, err := url.PathUnescape(user); err == nil {
					found(u)
				}
				if p, err := url.PathUnescape(pass); err == nil {
					found(p)
				}
				found(pass)
				found(base64.StdEncoding.EncodeToString([]byte(auth[:at]))) // what Basic auth sends
			}
			b.WriteString(Mask + "@")
			auth = auth[at+1:]
		}
		h, port, hasPort := splitHostPort(auth)
		host = strings.ToLower(strings.Trim(h, "[]"))
		b.WriteString(h)
		if hasPort {
			b.WriteByte(':')
			if port == Mask || allDigits(port) {
				b.WriteString(port)
			} else {
				b.WriteString(hide(port))
			}
		}
	}
	frag, hasFrag := "", false
	if i := strings.IndexByte(rest, '#'); i >= 0 {
		rest, frag, hasFrag = rest[:i], rest[i+1:], true
	}
	query, hasQuery := "", false
	if i := strings.IndexByte(rest, '?'); i >= 0 {
		rest, query, hasQuery = rest[:i], rest[i+1:], true
	}
	if rest != "" {
		segs := strings.Split(rest, "/")
		maskPath(host, segs, hide)
		b.WriteString(strings.Join(segs, "/"))
	}
	if hasQuery {
		b.WriteByte('?')
		parts := strings.Split(query, "&")
		for i, p := range parts {
			name, value, ok := strings.Cut(p, "=")
			switch {
			case ok && looksRandom(name):
				parts[i] = hide(p)
			case ok && value != "":
				if found != nil {
					if v, err := url.QueryUnescape(value); err == nil {
						found(v)
					}
				}
				parts[i] = name + "=" + hide(value)
			case !ok && looksRandom(p):
				parts[i] = hide(p)
			}
		}
		b.WriteString(strings.Join(parts, "&"))
	}
	if hasFrag {
		b.WriteByte('#')
		if frag != "" {
			b.WriteString(hide(frag))
		}
	}
	return b.String()
}

// cutAny cuts s before the first of chars.
func cutAny(s, chars string) (before, after string, found bool) {
	if i := strings.IndexAny(s, chars); i >= 0 {
		return s[:i], s[i:], true
	}
	return s, "", false
}

func validScheme(s string) bool {
	if s == "" || !isLetter(s[0]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isSchemeChar(s[i]) {
			return false
		}
	}
	return true
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isDigit(c byte) bool  { return '0' <= c && c <= '9' }
func isSchemeChar(c byte) bool {
	return isLetter(c) || isDigit(c) || c == '+' || c == '-' || c == '.'
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// splitHostPort splits "host:port" and "[v6]:port" (the port may be
// anything: a password whose "@" is missing shows up there).
func splitHostPort(a string) (host, port string, hasPort bool) {
	if strings.HasPrefix(a, "[") {
		if j := strings.IndexByte(a, ']'); j >= 0 {
			host, rest := a[:j+1], a[j+1:]
			if p, ok := strings.CutPrefix(rest, ":"); ok {
				return host, p, true
			}
			if rest != "" {
				return host + rest, "", false
			}
			return host, "", false
		}
		return a, "", false
	}
	host, port, hasPort = strings.Cut(a, ":")
	return host, port, hasPort
}

// pathRules mask the secret segments of known webhook services.
func maskPath(host string, segs []string, hide func(string) string) {
	maskFrom := func(from int) {
		for j := from; j < len(segs); j++ {
			if segs[j] != "" {
				segs[j] = hide(segs[j])
			}
		}
	}
	switch {
	case host == "hooks.slack.com" || strings.HasSuffix(host, ".slack.com"):
		// /services/T/B/<secret>, /workflows/T/A/<id>/<secret>, /triggers/T/<id>/<secret>
		for i, s := range segs {
			if n := map[string]int{"services": 3, "workflows": 4, "triggers": 3}[s]; n > 0 {
				maskFrom(i + n)
				break
			}
		}
	case host == "discord.com" || host == "discordapp.com" || strings.HasSuffix(host, ".discord.com") || strings.HasSuffix(host, ".discordapp.com"):
		// /api[/v10]/webhooks/<id>/<token>[/slack|/github]
		for i, s := range segs {
			if s == "webhooks" && i+2 < len(segs) && segs[i+2] != "" {
				segs[i+2] = hide(segs[i+2])
				break
			}
		}
	case strings.HasSuffix(host, "office.com") || strings.HasSuffix(host, "office365.com"):
		// /webhookb2/<group>@<tenant>/IncomingWebhook/<secret>/<owner>[/V2...]
		for i, s := range segs {
			if strings.EqualFold(s, "IncomingWebhook") {
				maskFrom(i + 1)
				break
			}
		}
	case host == "api.telegram.org":
		// /bot<token>/sendMessage, /file/bot<token>/<path>
		for i, s := range segs {
			if len(s) > 3 && strings.HasPrefix(s, "bot") && s != "bot"+Mask {
				hide(s[3:])
				segs[i] = "bot" + Mask
			}
		}
	}
	for i, s := range segs {
		if looksRandom(s) {
			segs[i] = hide(s)
		}
	}
}

// looksRandom reports whether s looks like a generated token rather than a
// word, a name or an id: at least 24 characters of base64url / hex (with
// . ~ = + allowed), letters and digits both present and interleaved (3 or
// more letter/digit changes) within an unbroken run of 16 or more letters
// and digits. Words joined by - or _ ("retrain_toxicity_model_v2"), UUIDs
// (runs of at most 12), numeric ids and 24-hex object ids (hex needs 32)
// are not tokens. A token made only of letters is not recognised: those are
// masked by the rules above or not at all.
func looksRandom(s string) bool {
	if len(s) < 24 {
		return false
	}
	var letters, digits, run, longest, changes int
	var prev byte // 1 letter, 2 digit, 0 after a separator
	hexOnly := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		var class byte
		switch {
		case isLetter(c):
			class = 1
			letters++
			if !('a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				hexOnly = false
			}
		case isDigit(c):
			class = 2
			digits++
		case c == '-' || c == '_' || c == '.' || c == '~' || c == '=' || c == '+':
			hexOnly = false
			run, prev = 0, 0
			continue
		default:
			return false
		}
		run++
		longest = max(longest, run)
		if prev != 0 && prev != class {
			changes++
		}
		prev = class
	}
	if letters == 0 || digits == 0 || longest < 16 || changes < 3 {
		return false
	}
	return !hexOnly || len(s) >= 32
}

// String masks every URL in s (with URL; a URL starts at a scheme and ends
// at whitespace, a quote or an angle bracket, including the quoted form
// *url.Error prints and JSON's escaped "https:\/\/"), the values of
// name=value, name: value and "name": "value" pairs whose name says secret
// (see SensitiveName; an authorization scheme is kept: "Bearer ***"), and
// credentials after Bearer, Basic, Digest or Negotiate.
func String(s string) string {
	if s == "" || !strings.ContainsAny(s, ":= ") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	// Pairs and schemes are looked for outside URLs only: a host such as
	// token.example.com:443 is not a "token: value" pair.
	last := 0
	eachURL(s, func(start, end int, escaped bool) {
		b.WriteString(schemes(pairs(s[last:start])))
		u := s[start:end]
		if escaped {
			b.WriteString(strings.ReplaceAll(URL(strings.ReplaceAll(u, `\/`, "/")), "/", `\/`))
		} else {
			b.WriteString(URL(u))
		}
		last = end
	})
	b.WriteString(schemes(pairs(s[last:])))
	return b.String()
}

// Error returns err with its text passed through String. The original
// stays reachable with errors.Is and errors.As (timeouts, Permanent), so
// callers can still classify it; they must print the returned error, never
// one unwrapped from it. An error String leaves unchanged is returned as is.
func Error(err error) error { return wrap(err, String) }

type redacted struct {
	msg string
	err error
}

func (e *redacted) Error() string { return e.msg }
func (e *redacted) Unwrap() error { return e.err }

func wrap(err error, f func(string) string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if r := f(msg); r != msg {
		return &redacted{msg: r, err: err}
	}
	return err
}

// eachURL calls fn with the span of each URL in s, in order.
func eachURL(s string, fn func(start, end int, escaped bool)) {
	// Next plain and escaped separators, each searched again only once
	// passed, so many URLs in one text cost one scan.
	plain, esc := -1, -1
	if !strings.Contains(s, "//") && !strings.Contains(s, `\/\/`) {
		return
	}
	next := func(sep string, from, cur int) int {
		if cur >= from {
			return cur
		}
		if k := strings.Index(s[from:], sep); k >= 0 {
			return from + k
		}
		return len(s)
	}
	last := 0
	for i := 0; i < len(s); {
		plain, esc = next("://", i, plain), next(`:\/\/`, i, esc)
		j, n, escaped := plain, 3, false
		if esc < plain {
			j, n, escaped = esc, 5, true
		}
		if j >= len(s) {
			return
		}
		// The scheme is the longest known one that ends at the separator;
		// anything else before "://" is left to the text around it (it may
		// be a credential: "Bearer abc://").
		start := j
		for k := j - 1; k >= last && k >= j-16 && isSchemeChar(s[k]); k-- {
			if knownSchemes[strings.ToLower(s[k:j])] {
				start = k
			}
		}
		end := urlEnd(s, j+n)
		fn(start, end, escaped)
		last = end
		i = max(end, j+n)
	}
}

// knownSchemes are the schemes a URL in a text may start with.
var knownSchemes = func() map[string]bool {
	m := map[string]bool{}
	for _, s := range strings.Fields(`http https ws wss ftp ftps sftp ssh git file kafka amqp amqps mqtt mqtts nats
		redis rediss mongodb mongodb+srv postgres postgresql mysql clickhouse tcp udp tls grpc grpcs smtp smtps imap imaps
		ldap ldaps s3 gs hdfs jdbc`) {
		m[s] = true
	}
	return m
}()

// urlEnd is where a URL starting before from ends. A quote escaped with a
// backslash (%q output) does not end it; trailing punctuation of a URL
// without query or fragment is not part of it.
func urlEnd(s string, from int) int {
	end := len(s)
scan:
	for k := from; k < len(s); k++ {
		switch s[k] {
		case ' ', '\t', '\n', '\r', '\v', '\f', '\'', '<', '>', '`':
			end = k
			break scan
		case '"':
			if s[k-1] == '\\' {
				continue
			}
			end = k
			break scan
		}
	}
	if !strings.ContainsAny(s[from:end], "?#") {
		for end > from && strings.IndexByte(".,;:!)]}\\", s[end-1]) >= 0 {
			end--
		}
	}
	return end
}

// pairHead is a name, an optional closing quote, ":" or "=", and an
// optional "[" and opening quote. The value after it is measured in Go
// (valueEnd): a regexp that also matched the value would rescan it for
// every name inside it ("a:a:a:...").
var pairHead = regexp.MustCompile(`([A-Za-z0-9_.-]+)(\\?["']?)(\s*[:=]\s*)(\[?\s*\\?["']?)`)

// authSchemes may precede a credential in a value ("Bearer abc").
var authSchemes = []string{"bearer", "basic", "digest", "negotiate", "token", "apikey"}

// valueEnd is the end of a value starting at i: it stops at whitespace,
// quotes, a backslash and , ; & ) ] } { [ < >.
func valueEnd(s string, i int) int {
	for ; i < len(s); i++ {
		switch s[i] {
		case ' ', '\t', '\n', '\r', '\v', '\f', '"', '\'', '\\', ',', ';', '&', ')', ']', '}', '{', '[', '<', '>':
			return i
		}
	}
	return i
}

// skipScheme returns where the credential starts when s[i:] is an
// authorization scheme, blanks and a value; else i.
func skipScheme(s string, i int) int {
	for _, sch := range authSchemes {
		if len(s)-i > len(sch) && strings.EqualFold(s[i:i+len(sch)], sch) {
			k := i + len(sch)
			for k < len(s) && (s[k] == ' ' || s[k] == '\t') {
				k++
			}
			if k > i+len(sch) && valueEnd(s, k) > k {
				return k
			}
		}
	}
	return i
}

// pairs masks the values of pairs whose name says secret.
func pairs(s string) string {
	if !strings.ContainsAny(s, ":=") {
		return s
	}
	var b strings.Builder
	last := 0
	for pos := 0; pos < len(s); {
		m := pairHead.FindStringSubmatchIndex(s[pos:])
		if m == nil {
			break
		}
		nameStart, nameEnd, sepEnd := pos+m[2], pos+m[3], pos+m[7]
		valStart := skipScheme(s, pos+m[1])
		valEnd := valueEnd(s, valStart)
		name, value := s[nameStart:nameEnd], s[valStart:valEnd]
		if value == "" || value == Mask || valStart < last || !SensitiveName(name) ||
			strings.HasSuffix(value, ":") || strings.HasSuffix(value, "=") {
			// The value may itself start a pair ("missing header: X-Api-Key: abc").
			pos = sepEnd
			continue
		}
		if lower := strings.ToLower(name); lower == "cookie" || lower == "set-cookie" {
			// Cookies list several name=value pairs: mask to the end of the line or string.
			valEnd = valStart + strings.IndexFunc(s[valStart:]+"\n", func(r rune) bool { return r == '\n' || r == '\r' || r == '"' || r == ']' })
		}
		b.WriteString(s[last:valStart])
		b.WriteString(Mask)
		last, pos = valEnd, valEnd
		if namesPair(s, valEnd) {
			pos = valStart // the value also names the next pair (`token= "X-Api-Key": "abc"`)
		}
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// namesPair reports whether a value ending at i is also the name of a
// pair: an optional backslash and quote, blanks, then ":" or "=".
func namesPair(s string, i int) bool {
	if i < len(s) && s[i] == '\\' {
		i++
	}
	if i < len(s) && (s[i] == '"' || s[i] == '\'') {
		i++
	}
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i < len(s) && (s[i] == ':' || s[i] == '=')
}

// scheme is a credential after an authorization scheme outside a pair
// ("... sent Bearer abc123 ..."): it must look like one (8 or more
// characters with a digit, mixed case or punctuation), so "Basic
// authentication" stays readable.
var scheme = regexp.MustCompile(`(?i)\b(bearer|basic|digest|negotiate)(\s+)([A-Za-z0-9._~+/=-]{8,})`)

func schemes(s string) string {
	return scheme.ReplaceAllStringFunc(s, func(m string) string {
		sub := scheme.FindStringSubmatch(m)
		v := sub[3]
		if !credentialLike(v) {
			return m
		}
		return sub[1] + sub[2] + Mask
	})
}

func credentialLike(v string) bool {
	var lower, upper, other bool
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case 'a' <= c && c <= 'z':
			lower = true
		case 'A' <= c && c <= 'Z':
			upper = true
		default:
			other = true
		}
	}
	return other || (lower && upper)
}

// SensitiveName reports whether a field, parameter or header name says its
// value is a secret: it contains token (but not "tokens", which counts LLM
// tokens), secret, passw(or)d, signature, authorization, cookie,
// credential, api_key / api-key / apikey, access_key or private_key, or one
// of its words (split at - _ .) is key, sig, pass, pwd or auth.
func SensitiveName(name string) bool {
	n := strings.ToLower(name)
	if strings.HasSuffix(n, "tokens") {
		return false
	}
	for _, w := range []string{"token", "secret", "passw", "signature", "authorization", "cookie", "credential",
		"apikey", "api_key", "api-key", "access_key", "private_key"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	for _, p := range strings.FieldsFunc(n, func(r rune) bool { return r == '-' || r == '_' || r == '.' }) {
		switch p {
		case "key", "sig", "pass", "pwd", "auth":
			return true
		}
	}
	return false
}

// SensitiveHeader reports whether a header's value is a secret: a
// SensitiveName, or a name containing key, auth or token anywhere
// (Authorization, Proxy-Authorization, X-Api-Key, X-Auth-Token, Cookie,
// X-Hub-Signature, X-Sightline-Signature, ...).
func SensitiveHeader(name string) bool {
	n := strings.ToLower(name)
	return SensitiveName(n) || strings.Contains(n, "key") || strings.Contains(n, "auth") || strings.Contains(n, "token")
}

// Header returns a header value fit to print: the value of a sensitive
// header becomes "***" (keeping an authorization scheme: "Bearer ***"),
// any other value passes through String.
func Header(name, value string) string {
	if !SensitiveHeader(name) {
		return String(value)
	}
	if sch, rest, ok := strings.Cut(value, " "); ok && isSchemeWord(sch) && strings.TrimSpace(rest) != "" {
		return sch + " " + Mask
	}
	return Mask
}

func isSchemeWord(s string) bool {
	if s == "" || len(s) > 16 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isLetter(s[i]) && s[i] != '-' {
			return false
		}
	}
	return true
}

// Headers returns a copy of h fit to print or store (see Header).
func Headers(h http.Header) http.Header {
	out := make(http.Header, len(h))
	for k, vs := range h {
		r := make([]string, len(vs))
		for i, v := range vs {
			r[i] = Header(k, v)
		}
		out[k] = r
	}
	return out
}

// MinSecretLen is the shortest value Secrets masks by value: shorter ones
// are too common in ordinary text to replace everywhere (patterns still
// mask them where a name says secret).
const MinSecretLen = 6

// Secrets masks values known to be secret (a configured header value, a
// signing secret, the credentials of a receiver's URL) wherever they
// appear — in any format a receiver may echo them — and then applies
// String. A nil *Secrets is String alone.
type Secrets struct {
	r *strings.Replacer
}

// NewSecrets masks values, and their URL-escaped, quoted and (for
// "Scheme credential" values) bare-credential forms. Values shorter than
// MinSecretLen are ignored.
func NewSecrets(values ...string) *Secrets {
	seen := map[string]bool{}
	var all []string
	add := func(v string) {
		if len(v) < MinSecretLen || seen[v] || strings.Contains(v, Mask) {
			return
		}
		seen[v] = true
		all = append(all, v)
	}
	for _, v := range values {
		add(v)
		add(url.QueryEscape(v))
		add(url.PathEscape(v))
		if q := strconv.Quote(v); len(q) >= 2 {
			add(q[1 : len(q)-1])
		}
		if sch, rest, ok := strings.Cut(v, " "); ok && isSchemeWord(sch) {
			add(strings.TrimSpace(rest))
		}
	}
	if len(all) == 0 {
		return nil
	}
	// Longest first: the replacer tries its arguments in order at each
	// position, so a secret that contains another is masked whole.
	sort.Slice(all, func(i, j int) bool { return len(all[i]) > len(all[j]) })
	args := make([]string, 0, 2*len(all))
	for _, v := range all {
		args = append(args, v, Mask)
	}
	return &Secrets{r: strings.NewReplacer(args...)}
}

// String masks the known values in s, then applies String.
func (s *Secrets) String(text string) string {
	if s != nil && text != "" {
		text = s.r.Replace(text)
	}
	return String(text)
}

// Error is Error with the known values masked too.
func (s *Secrets) Error(err error) error { return wrap(err, s.String) }

// URLSecrets returns the pieces of raw that URL masks (user info and its
// parts, the Basic authorization they make, query values raw and decoded,
// the fragment, secret path segments), for NewSecrets: a receiver that
// echoes them outside a URL is masked too.
func URLSecrets(raw string) []string {
	var out []string
	redactURL(raw, func(s string) { out = append(out, s) })
	return out
}
