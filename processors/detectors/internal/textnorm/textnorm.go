package textnorm

import (
	"encoding/binary"
	"math/bits"
	"unicode"
	"unicode/utf8"
)

// Flag describes a token.
type Flag uint8

const (
	// Number marks a numeric token (digits, "1,000", "6.213", "3rd", or a
	// number word such as "three" in Content mode).
	Number Flag = 1 << iota
	// Stop marks a stopword (function word) in Content mode.
	Stop
	// Upper marks a token whose first source character is upper case.
	Upper
	// Initial marks the first token of a sentence (after ., !, ? or a
	// line break), where upper case says nothing about being a name.
	Initial
)

// Mode selects how tokens are normalized.
type Mode uint8

const (
	// Plain lower-cases and splits on every character that is not a letter
	// or digit, like the tokenizer of Google's rouge_score without stemming.
	Plain Mode = iota
	// Content additionally joins number formats ("1,000" = "1000",
	// "2.50" = "2.5", "three" = "3", "3rd" = "3"), applies a light suffix
	// stemmer and flags stopwords. It is meant for support checks.
	Content
)

// Token is one normalized token. Hash identifies the normalized form; equal
// forms have equal hashes. Start and End are byte offsets into the source.
type Token struct {
	Hash       uint64
	Start, End int32
	Flags      Flag
}

// Has reports whether t carries flag f.
func (t Token) Has(f Flag) bool { return t.Flags&f != 0 }

// maxTokenBytes bounds the bytes of one normalized token; longer runs are
// hashed on their prefix so a pathological input cannot grow the buffer.
const maxTokenBytes = 64

// Tokenizer holds the scratch state of one tokenization. The zero value is
// ready to use; a Tokenizer must not be used concurrently.
type Tokenizer struct {
	Mode Mode
	// KeepText makes Tokenize append each normalized token to Text,
	// separated by single spaces (for tests and debugging).
	KeepText bool
	Text     []byte

	word [maxTokenBytes + 8]byte // 8 spare bytes let hashWord load whole words
}

// byte classes for the ASCII fast path.
const (
	clsOther = iota
	clsLower
	clsUpper
	clsDigit
	clsEnd // sentence-ending punctuation or newline
)

var asciiClass = func() (t [128]uint8) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = clsLower
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = clsUpper
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = clsDigit
	}
	t['.'], t['!'], t['?'], t['\n'] = clsEnd, clsEnd, clsEnd, clsEnd
	return t
}()

// Hash multipliers (from xxhash's PRIME64 constants; any odd 64-bit
// constants with well-mixed bits would do).
const (
	prime1 = 0x9E3779B185EBCA87
	prime2 = 0xC2B2AE3D27D4EB4F
)

// HashBytes returns the hash Tokenize uses for a normalized token.
func HashBytes(b []byte) uint64 {
	var buf [maxTokenBytes + 8]byte
	if len(b) <= maxTokenBytes {
		n := copy(buf[:], b)
		return hashWord(&buf, n)
	}
	// Longer inputs never come from Tokenize; hash them in chunks.
	h := uint64(hashSeed)
	n := len(b)
	for len(b) >= 8 {
		h = hashChunk(h, binary.LittleEndian.Uint64(b))
		b = b[8:]
	}
	if len(b) > 0 {
		k := copy(buf[:], b)
		clear(buf[k:8])
		h = hashChunk(h, binary.LittleEndian.Uint64(buf[:8]))
	}
	return hashFinal(h, n)
}

// hashWord hashes w[:n] (n <= maxTokenBytes) eight bytes per multiply: a
// byte-at-a-time hash such as FNV-1a is a serial chain of multiplies and was
// the largest cost of tokenizing. Bytes of w past n are masked off, so the
// array may hold stale bytes there. The length is mixed in last so that
// scanWord can compute the same hash while it reads the word (see
// wordHasher) instead of reloading bytes it has just stored one at a time,
// which stalls on store-to-load forwarding.
func hashWord(w *[maxTokenBytes + 8]byte, n int) uint64 {
	h := uint64(hashSeed)
	k := 0
	for ; k+8 <= n; k += 8 {
		h = hashChunk(h, binary.LittleEndian.Uint64(w[k:k+8]))
	}
	if k < n {
		v := binary.LittleEndian.Uint64(w[k : k+8])
		v &= (1 << (8 * uint(n-k))) - 1
		h = hashChunk(h, v)
	}
	return hashFinal(h, n)
}

const hashSeed = prime1

func hashChunk(h, v uint64) uint64 {
	h = (h ^ v) * prime2
	return h ^ h>>29
}

func hashFinal(h uint64, n int) uint64 {
	h = (h ^ uint64(n)) * prime1
	return h ^ h>>32
}

// wordHasher computes hashWord of the bytes it is given, one at a time.
type wordHasher struct {
	h, acc uint64
}

func (x *wordHasher) add(n int, b byte) {
	x.acc |= uint64(b) << (8 * uint(n&7))
	if n&7 == 7 {
		x.h = hashChunk(x.h, x.acc)
		x.acc = 0
	}
}

func (x *wordHasher) sum(n int) uint64 {
	h := x.h
	if n&7 != 0 {
		h = hashChunk(h, x.acc)
	}
	return hashFinal(h, n)
}

// HashString is HashBytes for a string.
func HashString(s string) uint64 {
	var buf [maxTokenBytes + 8]byte
	if len(s) <= maxTokenBytes {
		n := copy(buf[:], s)
		return hashWord(&buf, n)
	}
	return HashBytes([]byte(s))
}

// Tokenize appends the tokens of s to dst and returns it. It never panics:
// invalid UTF-8 bytes separate tokens like punctuation does.
func (t *Tokenizer) Tokenize(dst []Token, s string) []Token {
	if len(s) > 1<<30 {
		s = s[:1<<30] // offsets are int32
	}
	initial := true
	content := t.Mode == Content
	i := 0
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if asciiLower[c] == 0 {
				if asciiClass[c] == clsEnd {
					initial = true
				}
				i++
				continue
			}
		} else {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError || !(unicode.IsLetter(r) || unicode.IsDigit(r)) {
				i += size
				continue
			}
		}
		start := i
		var n, end int
		var h uint64
		var flags Flag
		fast := false
		if i+8 <= len(s) {
			// Most words are ASCII and shorter than eight bytes: one load,
			// one hash chunk, no call. The word is the k letters and digits
			// before the first other byte; it ends there unless that byte is
			// non-ASCII (a letter may follow) or, in Content mode, a comma or
			// dot after digits ("1,000", "2.5"): those go to scanWord.
			v := load64(s, i)
			letters, alnum := classify8(v)
			stop := ^alnum & swarHigh
			k := bits.TrailingZeros64(stop) >> 3
			keep := uint64(1)<<(8*uint(k)) - 1
			digitsOnly := letters&keep == 0
			// (k is 8 when no byte stops the word; k&7 keeps the index in range.)
			if c := s[i+k&7]; stop != 0 && k > 0 && c < utf8.RuneSelf && !(content && digitsOnly && (c == ',' || c == '.')) {
				fast = true
				lower := v | letters>>2 // 'A'-'Z' + 0x20 = 'a'-'z'
				binary.LittleEndian.PutUint64(t.word[:8], lower)
				n, end = k, i+k
				h = hashFinal(hashChunk(hashSeed, lower&keep), k)
				if c := s[i]; c >= 'A' && c <= 'Z' {
					flags = Upper
				}
				if content {
					if digitsOnly {
						flags |= Number
					} else if lower&0xff <= '9' {
						n, end, h, flags = t.finishWord(n, end, h, flags, false)
					}
				}
			}
		}
		if !fast {
			n, end, h, flags = t.scanWord(s, i)
		}
		i = end
		if initial {
			flags |= Initial
			initial = false
		}
		w := t.word[:n]
		if content && flags&Number == 0 {
			if n <= maxLexLen { // longer words are neither stopwords nor number words
				switch k := lookupLexicon(h); {
				case k < 0:
				case lexDigits[k] != "":
					w = append(t.word[:0], lexDigits[k]...)
					h = hashWord(&t.word, len(w))
					flags |= Number
				default:
					flags |= Stop
				}
			}
			if flags&(Stop|Number|nonASCII) == 0 && n > 3 && stemEnds[w[n-1]] {
				if sw := stem(w); len(sw) != len(w) || (len(sw) > 0 && sw[len(sw)-1] != w[len(w)-1]) {
					w = sw
					h = hashWord(&t.word, len(w)) // w is a prefix of t.word
				}
			}
		}
		flags &^= nonASCII
		if t.KeepText {
			if len(t.Text) > 0 {
				t.Text = append(t.Text, ' ')
			}
			t.Text = append(t.Text, w...)
		}
		dst = append(dst, Token{Hash: h, Start: int32(start), End: int32(end), Flags: flags})
	}
	return dst
}

// nonASCII is an internal flag: the word has non-ASCII letters.
const nonASCII Flag = 1 << 7

// asciiLower maps ASCII letters and digits to their lower-case form and
// every other byte to 0.
var asciiLower = func() (t [256]byte) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = byte(c)
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = byte(c + 'a' - 'A')
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = byte(c)
	}
	return t
}()

// scanWord reads one word starting at s[i] (a letter or digit) into t.word
// and returns its normalized length, the end offset, the hash of the
// normalized bytes and its flags.
func (t *Tokenizer) scanWord(s string, i int) (n, end int, h uint64, flags Flag) {
	w := &t.word
	hs := wordHasher{h: hashSeed}
	allDigits := true
	content := t.Mode == Content
	if c := s[i]; c >= 'A' && c <= 'Z' {
		flags |= Upper
	}
	// Fast path: eight bytes at a time while they are ASCII letters and
	// digits, which is most of every word. Anything the byte loop below
	// must decide (a non-ASCII byte, a separator inside a number, the
	// length cap, the last bytes of s) is left to it from the start of the
	// current eight, where its hasher state matches (n is a multiple of 8).
	for i+8 <= len(s) && n+8 <= maxTokenBytes {
		v := load64(s, i)
		letters, alnum := classify8(v)
		lower := v | letters>>2 // 'A'-'Z' + 0x20 = 'a'-'z'
		if alnum == swarHigh {
			binary.LittleEndian.PutUint64(w[n:], lower)
			hs.h = hashChunk(hs.h, lower)
			if letters != 0 {
				allDigits = false
			}
			n += 8
			i += 8
			continue
		}
		k := bits.TrailingZeros64(^alnum&swarHigh) >> 3
		keep := uint64(1)<<(8*uint(k)) - 1
		if letters&keep != 0 {
			allDigits = false
		}
		if c := s[i+k]; c >= utf8.RuneSelf || (content && allDigits && n+k > 0 && (c == ',' || c == '.')) {
			break
		}
		binary.LittleEndian.PutUint64(w[n:], lower)
		n += k
		i += k
		h = hs.h
		if k > 0 {
			h = hashChunk(h, lower&keep)
		}
		return t.finishWord(n, i, hashFinal(h, n), flags, allDigits)
	}
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			l := asciiLower[c]
			if l == 0 {
				if content && allDigits && n > 0 && (c == ',' || c == '.') {
					if c == ',' && threeDigitsThenEnd(s, i+1) {
						i++ // thousands separator: "1,000" = "1000"
						continue
					}
					if c == '.' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9' && !hasDot(w[:n]) {
						if n < maxTokenBytes {
							w[n] = '.'
							hs.add(n, '.')
							n++
						}
						i++
						continue
					}
				}
				break
			}
			if l > '9' {
				allDigits = false
			}
			if n < maxTokenBytes {
				w[n] = l
				hs.add(n, l)
				n++
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || !(unicode.IsLetter(r) || unicode.IsDigit(r)) {
			break
		}
		if n == 0 && unicode.IsUpper(r) {
			flags |= Upper
		}
		allDigits = false
		flags |= nonASCII
		if n+utf8.UTFMax <= maxTokenBytes {
			k := utf8.EncodeRune(w[n:], unicode.ToLower(r))
			for _, b := range w[n : n+k] {
				hs.add(n, b)
				n++
			}
		}
		i += size
	}
	return t.finishWord(n, i, hs.sum(n), flags, allDigits)
}

// finishWord applies the Content-mode number rules to the word of n bytes
// in t.word with hash h that ends at end.
func (t *Tokenizer) finishWord(n, end int, h uint64, flags Flag, allDigits bool) (int, int, uint64, Flag) {
	w := &t.word
	i := end
	if t.Mode == Content {
		if allDigits {
			flags |= Number
			if m := len(trimDecimal(w[:n])); m != n {
				n = m
				return n, i, hashWord(w, n), flags
			}
		} else if k := leadingDigits(w[:n]); k > 0 && isNumberSuffix(w[k:n]) {
			// "3rd", "1990s", "16th" name the number.
			flags |= Number
			return k, i, hashWord(w, k), flags
		}
	}
	return n, i, h, flags
}

const (
	swarOnes = 0x0101010101010101
	swarLow7 = 0x7f * swarOnes
	swarHigh = 0x80 * swarOnes
)

// load64 returns s[i:i+8] as a little-endian word (one load).
func load64(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// classify8 returns, for each of the eight bytes of v, 0x80 in letters if
// it is an ASCII letter and 0x80 in alnum if it is an ASCII letter or
// digit. With the high bits cleared each byte is at most 0x7f, so adding
// at most 0x7f never carries into the next byte: the high bit of x+(0x80-lo)
// says x >= lo, that of x+(0x7f-hi) says x > hi.
func classify8(v uint64) (letters, alnum uint64) {
	x := v & swarLow7
	y := x | 0x20*swarOnes // folds 'A'-'Z' onto 'a'-'z'
	letters = (y + (0x80-'a')*swarOnes) &^ (y + (0x7f-'z')*swarOnes)
	digits := (x + (0x80-'0')*swarOnes) &^ (x + (0x7f-'9')*swarOnes)
	ascii := ^v & swarHigh
	letters &= ascii
	return letters, (letters | digits) & ascii
}

func hasDot(w []byte) bool {
	for _, c := range w {
		if c == '.' {
			return true
		}
	}
	return false
}

// threeDigitsThenEnd reports whether s[i:] starts with exactly three digits.
func threeDigitsThenEnd(s string, i int) bool {
	if i+3 > len(s) {
		return false
	}
	for k := i; k < i+3; k++ {
		if s[k] < '0' || s[k] > '9' {
			return false
		}
	}
	return i+3 == len(s) || s[i+3] < '0' || s[i+3] > '9'
}

// trimDecimal drops trailing zeros of a decimal part ("2.50" = "2.5",
// "3.0" = "3") so formats of one value hash alike.
func trimDecimal(w []byte) []byte {
	if !hasDot(w) {
		return w
	}
	for len(w) > 0 && w[len(w)-1] == '0' {
		w = w[:len(w)-1]
	}
	if len(w) > 0 && w[len(w)-1] == '.' {
		w = w[:len(w)-1]
	}
	return w
}

func leadingDigits(w []byte) int {
	k := 0
	for k < len(w) && w[k] >= '0' && w[k] <= '9' {
		k++
	}
	return k
}

func isNumberSuffix(w []byte) bool {
	switch string(w) {
	case "st", "nd", "rd", "th", "s":
		return true
	}
	return false
}

// stem strips common English inflectional suffixes in place. It is a light
// stemmer (in the spirit of the S-stemmer of Harman 1991 extended with -ed,
// -ing, -ly and a final -e) chosen because a support check only needs
// "aired" = "air" and "titles" = "title", not Porter's full conflation, and
// it must cost a few nanoseconds. Non-ASCII words are left alone.
func stem(w []byte) []byte {
	n := len(w)
	if n <= 3 {
		return w
	}
	switch {
	case n > 4 && hasSuffix(w, "ies"):
		w = append(w[:n-3], 'y')
	case n > 4 && hasSuffix(w, "sses"):
		w = w[:n-2]
	case hasSuffix(w, "ss"), hasSuffix(w, "us"), hasSuffix(w, "is"):
	case n > 4 && (hasSuffix(w, "xes") || hasSuffix(w, "ches") || hasSuffix(w, "shes")):
		w = w[:n-2]
	case hasSuffix(w, "s"):
		w = w[:n-1]
	case n > 5 && hasSuffix(w, "ing"):
		w = undouble(w[:n-3])
	case n > 4 && hasSuffix(w, "ied"):
		w = append(w[:n-3], 'y')
	case n > 4 && hasSuffix(w, "ed"):
		w = undouble(w[:n-2])
	case n > 5 && hasSuffix(w, "ly"):
		w = w[:n-2]
	}
	// "base" and "based" both end as "bas".
	if len(w) > 3 && w[len(w)-1] == 'e' {
		w = w[:len(w)-1]
	}
	return w
}

// stemEnds marks the last letters of the suffixes stem removes (and of
// the final -e): stem leaves every other word as it is, so Tokenize skips
// the call for those.
var stemEnds = [256]bool{'s': true, 'g': true, 'd': true, 'y': true, 'e': true}

func hasSuffix(w []byte, s string) bool {
	return len(w) >= len(s) && string(w[len(w)-len(s):]) == s
}

// undouble turns "runn" (from "running") into "run".
func undouble(w []byte) []byte {
	n := len(w)
	if n >= 3 && w[n-1] == w[n-2] {
		switch w[n-1] {
		case 'l', 's', 'z', 'a', 'e', 'i', 'o', 'u':
			return w
		}
		return w[:n-1]
	}
	return w
}

// Normalize returns the Content-mode normal form of s: normalized tokens
// separated by single spaces.
func Normalize(s string) string {
	t := Tokenizer{Mode: Content, KeepText: true}
	var buf [64]Token
	t.Tokenize(buf[:0], s)
	return string(t.Text)
}
