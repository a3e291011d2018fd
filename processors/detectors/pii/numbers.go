package pii

// maxRun bounds one numeric candidate (the longest phone or card format
// with separators fits).
const maxRun = 28

// scanNumbers finds cards, SSNs, phones and IPv4 addresses: maximal runs of
// digits and separators (space, '-', '.', parentheses, a leading '+') that
// do not touch letters or digits, classified by their digit groups.
func scanNumbers(dst []span, s string, want KindSet) []span {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isDigit(c) || c == '+' || c == '(') {
			continue
		}
		if i > 0 {
			p := s[i-1]
			if isAlnum(p) || p == '.' || p == '-' || p == '_' || p == '/' || p == ':' || p == '+' || p == '#' || p == '$' || p == '@' {
				// Inside a token (UUID, hash, path, version, amount): skip
				// the rest of it.
				for i+1 < len(s) && (isAlnum(s[i+1]) || s[i+1] == '-' || s[i+1] == '.') {
					i++
				}
				continue
			}
		}
		e := i
		var groups [12]uint8
		var digits [20]byte
		ng, nd, sep := 0, 0, byte(0)
		mixed := false
		inGroup := false
		for e < len(s) && e-i < maxRun {
			ch := s[e]
			if isDigit(ch) {
				if !inGroup {
					if ng == len(groups) {
						break
					}
					ng++
					inGroup = true
				}
				groups[ng-1]++
				if nd < len(digits) {
					digits[nd] = ch
				}
				nd++
				e++
				continue
			}
			inGroup = false
			if ch == '+' && e == i || ch == '(' || ch == ')' || ch == ' ' || ch == '-' || ch == '.' {
				if ch == ' ' || ch == '-' || ch == '.' {
					if e+1 >= len(s) || !isDigit(s[e+1]) && s[e+1] != '(' {
						break // a separator must lead to more digits
					}
					if sep == 0 {
						sep = ch
					} else if sep != ch {
						mixed = true
					}
				}
				e++
				continue
			}
			break
		}
		// Trim trailing non-digits.
		for e > i && !isDigit(s[e-1]) {
			e--
		}
		if nd == 0 || e < len(s) && (isAlnum(s[e]) || s[e] == '_' || s[e] == '/' || (s[e] == '.' || s[e] == '-') && e+1 < len(s) && isAlnum(s[e+1])) {
			i = max(i, e)
			for i+1 < len(s) && (isAlnum(s[i+1]) || s[i+1] == '-' || s[i+1] == '.') {
				i++
			}
			continue
		}
		if nd > len(digits) {
			i = e
			continue
		}
		run := s[i:e]
		d := digits[:nd]
		g := groups[:ng]
		if k, ok := classify(run, d, g, sep, mixed, want, s[max(0, i-24):i]); ok {
			dst = append(dst, span{i, e, k})
		}
		i = e
	}
	return dst
}

func classify(run string, d []byte, g []uint8, sep byte, mixed bool, want KindSet, before string) (Kind, bool) {
	nd := len(d)
	paren := containsByte(run, '(')
	plus := run[0] == '+'
	if want.Has(IPv4) && sep == '.' && !mixed && !paren && !plus && len(g) == 4 && ipv4(run) && !versionContext(before) {
		return IPv4, true
	}
	if want.Has(USSSN) && !mixed && !paren && !plus && (sep == '-' || sep == ' ') && len(g) == 3 && g[0] == 3 && g[1] == 2 && g[2] == 4 && ssnValid(d) && !idContext(before) {
		return USSSN, true
	}
	if want.Has(CreditCard) && nd >= 13 && nd <= 19 && !paren && !plus && !mixed && sep != '.' && cardGroups(g) && luhn(d) && cardPrefix(d) {
		return CreditCard, true
	}
	// idContext reads the text before the run, so it goes last.
	if want.Has(Phone) && phone(run, d, g, sep, paren, plus) && !idContext(before) {
		return Phone, true
	}
	return 0, false
}

func containsByte(s string, c byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return true
		}
	}
	return false
}

func ipv4(run string) bool {
	octet, n, digits := 0, 0, 0
	for i := 0; i <= len(run); i++ {
		if i == len(run) || run[i] == '.' {
			if digits == 0 || digits > 3 || octet > 255 {
				return false
			}
			n++
			octet, digits = 0, 0
			continue
		}
		c := run[i]
		if !isDigit(c) {
			return false
		}
		if digits == 1 && octet == 0 {
			return false // leading zero: "01.02.2024" is a date
		}
		octet = octet*10 + int(c-'0')
		digits++
	}
	return n == 4
}

// ssnValid applies the SSA rules: area 000, 666 and 900–999, group 00 and
// serial 0000 are never issued.
func ssnValid(d []byte) bool {
	area := int(d[0]-'0')*100 + int(d[1]-'0')*10 + int(d[2]-'0')
	if area == 0 || area == 666 || area >= 900 {
		return false
	}
	if d[3] == '0' && d[4] == '0' {
		return false
	}
	return !(d[5] == '0' && d[6] == '0' && d[7] == '0' && d[8] == '0')
}

// cardGroups accepts a card written compact, in groups of four (the last
// may be shorter), or as Amex 4-6-5 / Diners 4-6-4.
func cardGroups(g []uint8) bool {
	if len(g) == 1 {
		return true
	}
	if len(g) == 3 && g[0] == 4 && g[1] == 6 && (g[2] == 5 || g[2] == 4) {
		return true
	}
	for i, x := range g {
		if i < len(g)-1 && x != 4 || i == len(g)-1 && (x < 1 || x > 4) {
			return false
		}
	}
	return true
}

// luhn is the Luhn (mod 10) checksum every payment card number satisfies.
func luhn(d []byte) bool {
	sum := 0
	double := false
	for i := len(d) - 1; i >= 0; i-- {
		v := int(d[i] - '0')
		if double {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
		double = !double
	}
	return sum%10 == 0
}

// cardPrefix checks the issuer identification ranges of the major networks:
// Visa 4, Mastercard 51–55 and 2221–2720, Amex 34/37, Discover 6011/644–649/65,
// JCB 3528–3589, Diners 300–305/36/38, UnionPay 62, Maestro 50/56–58/6.
func cardPrefix(d []byte) bool {
	p2 := int(d[0]-'0')*10 + int(d[1]-'0')
	p4 := p2*100 + int(d[2]-'0')*10 + int(d[3]-'0')
	switch {
	case d[0] == '4':
		return true
	case p2 >= 51 && p2 <= 55, p4 >= 2221 && p4 <= 2720:
		return len(d) == 16
	case p2 == 34 || p2 == 37:
		return len(d) == 15
	case p2 == 36 || p2 == 38 || p4 >= 3000 && p4 <= 3059:
		return len(d) >= 14
	case p4 >= 3528 && p4 <= 3589:
		return len(d) >= 16
	case p2 == 62 || p2 == 65 || p4 == 6011 || p4 >= 6440 && p4 <= 6499:
		return len(d) >= 16
	case p2 == 50 || p2 >= 56 && p2 <= 58:
		return len(d) >= 12
	}
	return false
}

// phone accepts international numbers ("+" and 8–15 digits, E.164) and the
// common national layouts: US (NXX) NXX-XXXX / NXX-NXX-XXXX / 1-NXX-NXX-XXXX,
// trunk-prefixed European and Indian numbers (0 then 9–11 more digits in
// groups of two or more: UK 020 7946 0958, 07700 900123; DE 030 1234567;
// FR 01 23 45 67 89; IN 022 2345 6789) and Indian mobiles 98765 43210.
func phone(run string, d []byte, g []uint8, sep byte, paren, plus bool) bool {
	nd := len(d)
	if plus {
		return nd >= 8 && nd <= 15 && d[0] != '0' && len(g) <= 6
	}
	if paren {
		if run[0] != '(' || len(g) < 3 {
			return false
		}
		return nd == 10 && g[0] == 3 && d[0] >= '2' && d[3] >= '2'
	}
	if len(g) < 2 || sep == 0 {
		return false // a bare digit run is an id, not a phone
	}
	if nd == 10 && len(g) == 3 && g[0] == 3 && g[1] == 3 && g[2] == 4 && d[0] >= '2' && d[3] >= '2' {
		return true
	}
	if nd == 11 && len(g) == 4 && g[0] == 1 && d[0] == '1' && g[1] == 3 && g[2] == 3 && g[3] == 4 {
		return true
	}
	if d[0] == '0' && d[1] != '0' && nd >= 10 && nd <= 12 && len(g) <= 5 {
		for _, x := range g {
			if x < 2 {
				return false
			}
		}
		return true
	}
	if nd == 10 && len(g) == 2 && g[0] == 5 && g[1] == 5 && d[0] >= '6' {
		return true
	}
	return false
}

// idContext reports whether the text just before a number names it as an
// identifier rather than personal data ("Order #", "invoice", "ISBN").
func idContext(before string) bool {
	return hasFoldWord(before, "order") || hasFoldWord(before, "invoice") || hasFoldWord(before, "isbn") ||
		hasFoldWord(before, "tracking") || hasFoldWord(before, "ticket") || hasFoldWord(before, "ref") ||
		hasFoldWord(before, "serial") || hasFoldWord(before, "sku") || hasFoldWord(before, "case")
}

func versionContext(before string) bool {
	return hasFoldWord(before, "version") || hasFoldWord(before, "release") || hasFoldWord(before, "build")
}

// hasFoldWord reports whether before contains w, ASCII case-insensitively.
func hasFoldWord(before, w string) bool {
	for i := 0; i+len(w) <= len(before); i++ {
		j := 0
		for j < len(w) && lower(before[i+j]) == w[j] {
			j++
		}
		if j == len(w) {
			return true
		}
	}
	return false
}

func lower(c byte) byte {
	if isUpper(c) {
		return c + 'a' - 'A'
	}
	return c
}
