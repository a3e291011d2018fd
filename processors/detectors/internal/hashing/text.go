// Package hashing holds what the linear text detectors under processors/
// share: a text normalizer, hashed word and character n-gram features, a
// logistic-regression model over those features with a compact binary form,
// its deterministic trainer, the ROC-AUC and k-fold helpers their quality
// tests use, and Classifier, the scoring and evidence machinery they all run
// on: the detectors differ only in their weights, cues and evidence phrases.
//
// Everything on the scoring path works on caller-owned or pooled buffers so
// that a detector can score an event without allocating. Nothing here logs,
// and no function panics on any input, including invalid UTF-8 (LoadEmbedded
// panics on a bad model built into the binary, a build defect).
package hashing

import (
	"unicode"
	"unicode/utf8"
)

// Normalize appends to dst a normalized form of s and returns the extended
// slice. The form is what the features are computed from:
//
//   - letters and digits are kept and lowercased (any script);
//   - URLs (http://, https://, www.), @mentions, HTML entities (&amp;, &#8220;)
//     and the retweet marker "rt" are removed, since they carry no meaning
//     for the detectors but differ between sources;
//   - apostrophes inside words are dropped ("don't" becomes "dont");
//   - a letter repeated more than twice is cut to two ("soooo" becomes "soo"),
//     so elongations share features with the plain word;
//   - every other run (spaces, punctuation, symbols, invalid UTF-8) becomes
//     one space; the result has no leading or trailing space.
func Normalize(dst []byte, s string) []byte {
	start := len(dst)
	wordStart := -1 // index in dst where the current word began
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if l := asciiFold[c]; l != 0 {
				if wordStart < 0 {
					if (l == 'h' || l == 'w') && i+4 <= len(s) {
						if n := skipURL(s, i); n > 0 {
							i += n
							continue
						}
					}
					if len(dst) > start {
						dst = append(dst, ' ')
					}
					wordStart = len(dst)
				}
				// Cut runs of one letter (not digit) at two.
				if n := len(dst); l <= '9' || n-wordStart < 2 || dst[n-1] != l || dst[n-2] != l {
					dst = append(dst, l)
				}
				i++
				continue
			}
			switch {
			case c == '\'':
				// Inside a word it is dropped so "don't" stays whole.
			case c == '@' && wordStart < 0:
				j := i + 1
				for j < len(s) && isWordByte(s[j]) {
					j++
				}
				i = j
				continue
			case c == '&':
				if n := entityLen(s, i); n > 0 {
					dst, wordStart = endWord(dst, wordStart, start)
					i += n
					continue
				}
				dst, wordStart = endWord(dst, wordStart, start)
			default:
				dst, wordStart = endWord(dst, wordStart, start)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '\u2019':
		case r != utf8.RuneError && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			if wordStart < 0 {
				if len(dst) > start {
					dst = append(dst, ' ')
				}
				wordStart = len(dst)
			}
			dst = utf8.AppendRune(dst, unicode.ToLower(r))
		default:
			dst, wordStart = endWord(dst, wordStart, start)
		}
		i += size
	}
	dst, _ = endWord(dst, wordStart, start)
	return dst
}

// endWord closes the current word, dropping it if it is the retweet marker
// "rt" (a source artefact), and returns the new dst and wordStart (-1).
func endWord(dst []byte, wordStart, start int) ([]byte, int) {
	if wordStart >= 0 && len(dst)-wordStart == 2 && dst[wordStart] == 'r' && dst[wordStart+1] == 't' {
		dst = dst[:wordStart]
		if len(dst) > start {
			dst = dst[:len(dst)-1] // the space before it
		}
	}
	return dst, -1
}

// asciiFold maps ASCII letters and digits to their lowercase form and every
// other byte to 0.
var asciiFold = func() (t [utf8.RuneSelf]byte) {
	for c := 0; c < utf8.RuneSelf; c++ {
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
			t[c] = byte(c)
		case 'A' <= c && c <= 'Z':
			t[c] = byte(c + 'a' - 'A')
		}
	}
	return t
}()

func isAlnumASCII(c byte) bool {
	return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')
}

func isWordByte(c byte) bool { return isAlnumASCII(c) || c == '_' }

// skipURL returns the length of a URL starting at s[i], or 0.
func skipURL(s string, i int) int {
	rest := s[i:]
	if !(hasPrefixFold(rest, "http://") || hasPrefixFold(rest, "https://") || hasPrefixFold(rest, "www.")) {
		return 0
	}
	j := 0
	for j < len(rest) && rest[j] > ' ' {
		j++
	}
	return j
}

// entityLen returns the length of an HTML entity such as "&amp;" or
// "&#8220;" starting at s[i], or 0.
func entityLen(s string, i int) int {
	const maxEntity = 10
	for j := i + 1; j < len(s) && j-i <= maxEntity; j++ {
		c := s[j]
		if c == ';' {
			if j == i+1 {
				return 0
			}
			return j - i + 1
		}
		if !isAlnumASCII(c) && c != '#' {
			return 0
		}
	}
	return 0
}

func hasPrefixFold(s, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != prefix[i] {
			return false
		}
	}
	return true
}

// NextWord returns the bounds [start, end) of the first word in norm at or
// after i, with ok false when there is none. norm must come from Normalize,
// where words are separated by single spaces.
func NextWord(norm []byte, i int) (start, end int, ok bool) {
	for i < len(norm) && norm[i] == ' ' {
		i++
	}
	if i >= len(norm) {
		return 0, 0, false
	}
	j := i
	for j < len(norm) && norm[j] != ' ' {
		j++
	}
	return i, j, true
}
