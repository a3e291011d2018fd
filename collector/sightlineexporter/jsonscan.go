package sightlineexporter

import (
	"errors"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// scanner is a minimal single-pass JSON reader over a string. It exists
// because message attributes are the exporter's hot path: strings without
// escapes are returned as substrings of the attribute (no copy), and no
// reflection is involved. It validates structure as it goes; anything
// malformed makes the caller fall back to keeping the raw text.
type scanner struct {
	s   string
	i   int
	err error
	a   *arena // where messages are allocated; nil allocates each
}

var errJSON = errors.New("invalid JSON")

// shortString is how far str looks byte by byte before searching.
const shortString = 24

// maxDepth bounds nesting so hostile input cannot exhaust the stack.
const maxDepth = 64

func (p *scanner) fail() bool {
	if p.err == nil {
		p.err = errJSON
	}
	return false
}

func (p *scanner) ws() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// peek returns the next non-space byte, 0 at the end.
func (p *scanner) peek() byte {
	p.ws()
	if p.i >= len(p.s) {
		return 0
	}
	return p.s[p.i]
}

// str reads a string value. Strings without escapes (most content) are
// substrings of the input: no copy.
func (p *scanner) str() (string, bool) {
	if p.peek() != '"' {
		return "", p.fail()
	}
	p.i++
	start := p.i
	// Keys and labels are short: a plain loop finds their end sooner
	// than two searches would.
	for j := start; j < len(p.s) && j < start+shortString; j++ {
		switch p.s[j] {
		case '"':
			p.i = j + 1
			return p.s[start:j], true
		case '\\':
			return p.strEscaped(start)
		}
	}
	q := strings.IndexByte(p.s[start:], '"')
	if q < 0 {
		return "", p.fail()
	}
	if strings.IndexByte(p.s[start:start+q], '\\') < 0 {
		p.i = start + q + 1
		return p.s[start : start+q], true
	}
	return p.strEscaped(start)
}

// strEscaped decodes a string with escapes starting at start (after the
// opening quote) into one exactly sized allocation.
func (p *scanner) strEscaped(start int) (string, bool) {
	// Find the closing quote: one not preceded by an odd number of
	// backslashes.
	end := start
	for {
		q := strings.IndexByte(p.s[end:], '"')
		if q < 0 {
			return "", p.fail()
		}
		end += q
		n := 0
		for j := end - 1; j >= start && p.s[j] == '\\'; j-- {
			n++
		}
		if n%2 == 0 {
			break
		}
		end++
	}
	// Decoding never makes a string longer than its JSON form.
	b := p.a.bytes(end - start)[:0]
	i := start
	for i < end {
		bs := strings.IndexByte(p.s[i:end], '\\')
		if bs < 0 {
			b = append(b, p.s[i:end]...)
			break
		}
		b = append(b, p.s[i:i+bs]...)
		i += bs
		if i+1 >= end {
			return "", p.fail()
		}
		e := p.s[i+1]
		i += 2
		switch e {
		case '"', '\\', '/':
			b = append(b, e)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, ok := hex4(p.s, i, end)
			if !ok {
				return "", p.fail()
			}
			i += 4
			if utf16.IsSurrogate(r) {
				if i+6 <= end && p.s[i] == '\\' && p.s[i+1] == 'u' {
					if r2, ok := hex4(p.s, i+2, end); ok {
						if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
							r = d
							i += 6
						} else {
							r = utf8.RuneError
						}
					} else {
						return "", p.fail()
					}
				} else {
					r = utf8.RuneError
				}
			}
			b = utf8.AppendRune(b, r)
		default:
			return "", p.fail()
		}
	}
	p.i = end + 1
	return unsafe.String(unsafe.SliceData(b), len(b)), true
}

func hex4(s string, i, end int) (rune, bool) {
	if i+4 > end {
		return 0, false
	}
	var r rune
	for _, c := range []byte(s[i : i+4]) {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return r, true
}

// skip reads over one value of any kind and returns its raw text.
func (p *scanner) skip(depth int) (string, bool) {
	if depth > maxDepth {
		return "", p.fail()
	}
	c := p.peek()
	start := p.i
	switch {
	case c == '"':
		if _, ok := p.str(); !ok {
			return "", false
		}
	case c == '{':
		p.i++
		for first := true; p.next('}', first); first = false {
			if _, ok := p.key(); !ok {
				return "", false
			}
			if _, ok := p.skip(depth + 1); !ok {
				return "", false
			}
		}
	case c == '[':
		p.i++
		for first := true; p.next(']', first); first = false {
			if _, ok := p.skip(depth + 1); !ok {
				return "", false
			}
		}
	case c == 't':
		return p.literal("true")
	case c == 'f':
		return p.literal("false")
	case c == 'n':
		return p.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		p.i++
		for p.i < len(p.s) {
			c := p.s[p.i]
			if !(c >= '0' && c <= '9' || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') {
				break
			}
			p.i++
		}
	default:
		return "", p.fail()
	}
	if p.err != nil {
		return "", false
	}
	return p.s[start:p.i], true
}

func (p *scanner) literal(lit string) (string, bool) {
	if !strings.HasPrefix(p.s[p.i:], lit) {
		return "", p.fail()
	}
	p.i += len(lit)
	return lit, true
}

// enter reads the opening delimiter of an object ('{') or array ('[').
func (p *scanner) enter(open byte) bool {
	if p.peek() != open {
		return p.fail()
	}
	p.i++
	return true
}

// next reports whether another member follows in the object or array
// being read (close is its closing delimiter; first is true before the
// first member). It reads the separating comma, or the closing delimiter
// at the end. Callers check p.err after the loop.
//
// Iteration is a loop rather than a callback so the hot path allocates no
// closures.
func (p *scanner) next(close byte, first bool) bool {
	if p.err != nil {
		return false
	}
	c := p.peek()
	if c == close {
		p.i++
		return false
	}
	if !first {
		if c != ',' {
			return p.fail()
		}
		p.i++
	}
	return true
}

// key reads an object member's key and the colon after it.
func (p *scanner) key() (string, bool) {
	k, ok := p.str()
	if !ok {
		return "", false
	}
	if p.peek() != ':' {
		return "", p.fail()
	}
	p.i++
	return k, true
}

// end reports whether only white space is left.
func (p *scanner) end() bool {
	if p.peek() != 0 {
		return p.fail()
	}
	return p.err == nil
}
