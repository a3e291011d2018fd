package pii

import (
	"net/netip"
	"strings"
)

// span is one finding: s[start:end] is a value of kind.
type span struct {
	start, end int
	kind       Kind
}

// scan appends the findings of the kinds in want to dst. Each scanner is
// guarded by a cheap byte test ('@' for email, ':' for IPv6, a digit for the
// numeric kinds) so text without the trigger costs one pass of IndexByte.
func scan(dst []span, s string, want KindSet) []span {
	if want.Has(Email) && strings.IndexByte(s, '@') >= 0 {
		dst = scanEmail(dst, s)
	}
	if want&Of(APIKey, JWT, PrivateKey) != 0 {
		if m := secretTriggers(s); m != 0 {
			dst = scanSecrets(dst, s, want, m)
		}
	}
	if want.Has(IPv6) && strings.IndexByte(s, ':') >= 0 {
		dst = scanIPv6(dst, s)
	}
	if want.Has(IBAN) {
		dst = scanIBAN(dst, s)
	}
	if want&Of(CreditCard, USSSN, Phone, IPv4) != 0 && strings.ContainsAny(s, "0123456789") {
		dst = scanNumbers(dst, s, want)
	}
	return dst
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }

// --- email ---------------------------------------------------------------

func isLocal(c byte) bool {
	return isAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-'
}

func isDomain(c byte) bool { return isAlnum(c) || c == '.' || c == '-' }

// scanEmail expands around each '@': a local part of [A-Za-z0-9._%+-] and a
// domain of labels with a final alphabetic label of two or more letters.
func scanEmail(dst []span, s string) []span {
	for i := 0; i < len(s); i++ {
		k := strings.IndexByte(s[i:], '@')
		if k < 0 {
			break
		}
		at := i + k
		i = at
		a := at
		for a > 0 && isLocal(s[a-1]) && at-a < 64 {
			a--
		}
		for a < at && s[a] == '.' {
			a++
		}
		if a == at {
			continue
		}
		b := at + 1
		for b < len(s) && isDomain(s[b]) && b-at < 255 {
			b++
		}
		for b > at+1 && (s[b-1] == '.' || s[b-1] == '-') {
			b--
		}
		dom := s[at+1 : b]
		dot := strings.LastIndexByte(dom, '.')
		if dot <= 0 || len(dom)-dot-1 < 2 || strings.Contains(dom, "..") {
			continue
		}
		tld := dom[dot+1:]
		ok := true
		for j := 0; j < len(tld); j++ {
			if isDigit(tld[j]) || tld[j] == '-' {
				ok = false
				break
			}
		}
		if ok {
			dst = append(dst, span{a, b, Email})
			i = b - 1
		}
	}
	return dst
}

// --- secrets -------------------------------------------------------------

// keyPrefixes are the prefixes providers put on their secrets, with the
// minimum number of key characters ([A-Za-z0-9_-]) that must follow.
var keyPrefixes = [...]struct {
	p   string
	min int
}{
	{"sk-", 20},                                                          // OpenAI (sk-, sk-proj-), Anthropic (sk-ant-)
	{"sk_live_", 16}, {"sk_test_", 16}, {"rk_live_", 16}, {"whsec_", 20}, // Stripe
	{"AKIA", 16}, {"ASIA", 16}, // AWS access key ids
	{"ghp_", 30}, {"gho_", 30}, {"ghu_", 30}, {"ghs_", 30}, {"ghr_", 30}, {"github_pat_", 30}, // GitHub
	{"xoxb-", 10}, {"xoxa-", 10}, {"xoxp-", 10}, {"xoxr-", 10}, {"xoxs-", 10}, // Slack
	{"AIza", 30},   // Google API keys
	{"glpat-", 20}, // GitLab
	{"hf_", 30},    // Hugging Face
	{"npm_", 30},   // npm
	{"SG.", 40},    // SendGrid
}

func isKeyChar(c byte) bool { return isAlnum(c) || c == '_' || c == '-' || c == '.' }

// The bits of secretTriggers' result: bit i for keyPrefixes[i], then the
// JWT and private key markers.
const (
	jwtBit        = len(keyPrefixes)
	privateKeyBit = len(keyPrefixes) + 1
	jwtMarker     = "eyJ"
	pemMarker     = "-----BEGIN "
)

// trigger[k][c] has bit i set when the k-th byte of marker i is c; a marker
// can start at s[j] only if the bit survives trigger[0][s[j]] &
// trigger[1][s[j+1]] & trigger[2][s[j+2]].
var trigger = func() (t [3][256]uint32) {
	add := func(bit int, p string) {
		for k := range t {
			t[k][p[k]] |= 1 << bit
		}
	}
	for i, kp := range keyPrefixes {
		add(i, kp.p)
	}
	add(jwtBit, jwtMarker)
	add(privateKeyBit, pemMarker)
	return t
}()

// secretTriggers returns the set of markers (key prefixes, JWT, PEM) whose
// first three bytes occur in s: one pass over the bytes instead of one
// substring search per marker, and almost always 0 in ordinary text.
func secretTriggers(s string) uint32 {
	var m uint32
	for j := 0; j+2 < len(s); j++ {
		m |= trigger[0][s[j]] & trigger[1][s[j+1]] & trigger[2][s[j+2]]
	}
	return m
}

// scanSecrets finds the secrets of the kinds in want; markers outside the
// set m (see secretTriggers) cannot occur in s and are not searched for.
func scanSecrets(dst []span, s string, want KindSet, m uint32) []span {
	if want.Has(APIKey) {
		for i, kp := range keyPrefixes {
			if m&(1<<i) == 0 {
				continue
			}
			for from := 0; from < len(s); {
				k := strings.Index(s[from:], kp.p)
				if k < 0 {
					break
				}
				at := from + k
				from = at + len(kp.p)
				if at > 0 && isKeyChar(s[at-1]) {
					continue
				}
				e := from
				for e < len(s) && isKeyChar(s[e]) && s[e] != '.' || e < len(s) && s[e] == '.' && kp.p == "SG." {
					e++
				}
				if e-from < kp.min {
					continue
				}
				if kp.p == "AKIA" || kp.p == "ASIA" {
					// AWS ids are exactly 16 upper-case letters/digits.
					if e-from != 16 || !allUpperDigit(s[from:e]) {
						continue
					}
				}
				dst = append(dst, span{at, e, APIKey})
				from = e
			}
		}
	}
	if want.Has(JWT) && m&(1<<jwtBit) != 0 {
		for from := 0; from < len(s); {
			k := strings.Index(s[from:], "eyJ")
			if k < 0 {
				break
			}
			at := from + k
			from = at + 3
			if at > 0 && isKeyChar(s[at-1]) {
				continue
			}
			// header.payload.signature, base64url; payload starts with eyJ too.
			e, dots, seg, ok := at, 0, 0, true
			for e < len(s) && (isAlnum(s[e]) || s[e] == '_' || s[e] == '-' || s[e] == '.') {
				if s[e] == '.' {
					if seg < 4 {
						ok = false
					}
					dots++
					seg = 0
					if dots == 1 && !strings.HasPrefix(s[e+1:], "eyJ") {
						ok = false
					}
				} else {
					seg++
				}
				e++
			}
			if ok && dots == 2 && seg >= 8 {
				dst = append(dst, span{at, e, JWT})
				from = e
			}
		}
	}
	if want.Has(PrivateKey) && m&(1<<privateKeyBit) != 0 {
		for from := 0; from < len(s); {
			k := strings.Index(s[from:], "-----BEGIN ")
			if k < 0 {
				break
			}
			at := from + k
			from = at + 11
			eol := strings.Index(s[from:], "-----")
			if eol < 0 || eol > 40 || !strings.HasSuffix(s[from:from+eol], "PRIVATE KEY") {
				continue
			}
			end := len(s)
			if j := strings.Index(s[from:], "-----END "); j >= 0 {
				end = from + j + 9
				if m := strings.Index(s[end:], "-----"); m >= 0 && m < 40 {
					end += m + 5
				}
			}
			dst = append(dst, span{at, end, PrivateKey})
			from = end
		}
	}
	return dst
}

func allUpperDigit(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isUpper(s[i]) && !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// --- IPv6 ----------------------------------------------------------------

func isHexColon(c byte) bool {
	return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' || c == ':' || c == '.'
}

// scanIPv6 takes maximal runs of hex digits and colons with at least two
// colons and lets netip parse them; "::" or seven colons are required so
// times ("10:30:00") and MAC addresses never qualify.
func scanIPv6(dst []span, s string) []span {
	for i := 0; i < len(s); i++ {
		k := strings.IndexByte(s[i:], ':')
		if k < 0 {
			break
		}
		c := i + k
		a := c
		for a > 0 && isHexColon(s[a-1]) && c-a < 45 {
			a--
		}
		b := c
		for b < len(s) && isHexColon(s[b]) && b-a < 45 {
			b++
		}
		for b > a && s[b-1] == '.' {
			b--
		}
		i = b
		if a > 0 && (isAlnum(s[a-1]) || s[a-1] == '_') || b < len(s) && (isAlnum(s[b]) || s[b] == '_') {
			continue
		}
		cand := s[a:b]
		if strings.Count(cand, ":") < 2 || !(strings.Contains(cand, "::") || strings.Count(cand, ":") == 7) {
			continue
		}
		if ip, err := netip.ParseAddr(cand); err == nil && ip.Is6() && cand != "::" {
			dst = append(dst, span{a, b, IPv6})
		}
	}
	return dst
}

// --- IBAN ----------------------------------------------------------------

// ibanLen is the IBAN length of the countries most seen in the wild (SWIFT
// IBAN registry).
var ibanLen = map[string]int{
	"AD": 24, "AE": 23, "AT": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29, "CH": 21, "CY": 28, "CZ": 24,
	"DE": 22, "DK": 18, "EE": 20, "ES": 24, "FI": 18, "FR": 27, "GB": 22, "GR": 27, "HR": 21, "HU": 28,
	"IE": 22, "IL": 23, "IS": 26, "IT": 27, "KW": 30, "KZ": 20, "LI": 21, "LT": 20, "LU": 20, "LV": 21,
	"MC": 27, "MT": 31, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PT": 25, "QA": 29, "RO": 24, "RS": 22,
	"SA": 24, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "TR": 26, "UA": 29,
}

// scanIBAN looks for two upper-case letters and two check digits followed
// by the BBAN, compact or in groups of four separated by single spaces, and
// accepts it when its length fits the country and mod-97 of the rearranged
// number is 1 (ISO 13616).
func scanIBAN(dst []span, s string) []span {
	for i := 0; i+15 <= len(s); i++ {
		if !isUpper(s[i]) || !isUpper(s[i+1]) || !isDigit(s[i+2]) || !isDigit(s[i+3]) {
			continue
		}
		if i > 0 && isAlnum(s[i-1]) {
			continue
		}
		want, ok := ibanLen[s[i:i+2]]
		if !ok {
			continue
		}
		var buf [34]byte
		n, e := 0, i
		for e < len(s) && n < want {
			c := s[e]
			if isAlnum(c) {
				buf[n] = c
				n++
				e++
				continue
			}
			if c == ' ' && n%4 == 0 && e+1 < len(s) && isAlnum(s[e+1]) {
				e++
				continue
			}
			break
		}
		if n != want || e < len(s) && isAlnum(s[e]) {
			continue
		}
		if ibanMod97(buf[:n]) == 1 {
			dst = append(dst, span{i, e, IBAN})
			i = e
		}
	}
	return dst
}

func ibanMod97(b []byte) int {
	r := 0
	add := func(c byte) bool {
		switch {
		case isDigit(c):
			r = (r*10 + int(c-'0')) % 97
		case isUpper(c):
			r = (r*100 + int(c-'A'+10)) % 97
		case c >= 'a' && c <= 'z':
			r = (r*100 + int(c-'a'+10)) % 97
		default:
			return false
		}
		return true
	}
	for _, c := range b[4:] {
		if !add(c) {
			return -1
		}
	}
	for _, c := range b[:4] {
		if !add(c) {
			return -1
		}
	}
	return r
}
