package textnorm

// The old* declarations are the tokenizer before the SWAR word scanner,
// kept to check that the rewrite produces exactly the same tokens
// (FuzzSameAsOld). They share only the public types with the package.

import (
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

type lexEntry struct {
	hash   uint64
	digits string // non-empty for number words
}

// oldLexicon maps the hash of each stopword and number word to its digits
// ("" for stopwords): a plain map, independent of the package's table.
var oldLexicon = func() map[uint64]*lexEntry {
	m := map[uint64]*lexEntry{}
	for _, w := range stopwords {
		m[oldHashString(w)] = &lexEntry{hash: oldHashString(w)}
	}
	for w, d := range numberWords {
		m[oldHashString(w)] = &lexEntry{hash: oldHashString(w), digits: d}
	}
	return m
}()

func oldLookupLexicon(h uint64) *lexEntry { return oldLexicon[h] }

func oldHashString(s string) uint64 {
	var buf [maxTokenBytes + 8]byte
	n := copy(buf[:], s)
	return oldHashWord(&buf, n)
}

// oldTokenizer holds the scratch state of one tokenization. The zero value is
// ready to use; a oldTokenizer must not be used concurrently.
type oldTokenizer struct {
	Mode Mode
	// KeepText makes Tokenize append each normalized token to Text,
	// separated by single spaces (for tests and debugging).
	KeepText bool
	Text     []byte

	word [maxTokenBytes + 8]byte // 8 spare bytes let oldHashWord load whole words
}

// byte classes for the ASCII fast path.
const (
	oldClsOther = iota
	oldClsLower
	oldClsUpper
	oldClsDigit
	oldClsEnd // sentence-ending punctuation or newline
)

var oldAsciiClass = func() (t [128]uint8) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = oldClsLower
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = oldClsUpper
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = oldClsDigit
	}
	t['.'], t['!'], t['?'], t['\n'] = oldClsEnd, oldClsEnd, oldClsEnd, oldClsEnd
	return t
}()

// Hash multipliers (from xxhash's PRIME64 constants; any odd 64-bit
// constants with well-mixed bits would do).
const (
	oldPrime1 = 0x9E3779B185EBCA87
	oldPrime2 = 0xC2B2AE3D27D4EB4F
)

// oldHashWord hashes w[:n] (n <= maxTokenBytes) eight bytes per multiply: a
// byte-at-a-time hash such as FNV-1a is a serial chain of multiplies and was
// the largest cost of tokenizing. Bytes of w past n are masked off, so the
// array may hold stale bytes there. The length is mixed in last so that
// oldScanWord can compute the same hash while it reads the word (see
// oldWordHasher) instead of reloading bytes it has just stored one at a time,
// which stalls on store-to-load forwarding.
func oldHashWord(w *[maxTokenBytes + 8]byte, n int) uint64 {
	h := uint64(oldHashSeed)
	k := 0
	for ; k+8 <= n; k += 8 {
		h = oldHashChunk(h, binary.LittleEndian.Uint64(w[k:k+8]))
	}
	if k < n {
		v := binary.LittleEndian.Uint64(w[k : k+8])
		v &= (1 << (8 * uint(n-k))) - 1
		h = oldHashChunk(h, v)
	}
	return oldHashFinal(h, n)
}

const oldHashSeed = oldPrime1

func oldHashChunk(h, v uint64) uint64 {
	h = (h ^ v) * oldPrime2
	return h ^ h>>29
}

func oldHashFinal(h uint64, n int) uint64 {
	h = (h ^ uint64(n)) * oldPrime1
	return h ^ h>>32
}

// oldWordHasher computes oldHashWord of the bytes it is given, one at a time.
type oldWordHasher struct {
	h, acc uint64
}

func (x *oldWordHasher) add(n int, b byte) {
	x.acc |= uint64(b) << (8 * uint(n&7))
	if n&7 == 7 {
		x.h = oldHashChunk(x.h, x.acc)
		x.acc = 0
	}
}

func (x *oldWordHasher) sum(n int) uint64 {
	h := x.h
	if n&7 != 0 {
		h = oldHashChunk(h, x.acc)
	}
	return oldHashFinal(h, n)
}

// Tokenize appends the tokens of s to dst and returns it. It never panics:
// invalid UTF-8 bytes separate tokens like punctuation does.
func (t *oldTokenizer) Tokenize(dst []Token, s string) []Token {
	if len(s) > 1<<30 {
		s = s[:1<<30] // offsets are int32
	}
	initial := true
	content := t.Mode == Content
	i := 0
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if oldAsciiLower[c] == 0 {
				if oldAsciiClass[c] == oldClsEnd {
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
		n, end, h, flags := t.oldScanWord(s, i)
		i = end
		if initial {
			flags |= Initial
			initial = false
		}
		w := t.word[:n]
		if content && flags&Number == 0 {
			if e := oldLookupLexicon(h); e != nil {
				if e.digits != "" {
					w = append(t.word[:0], e.digits...)
					h = oldHashWord(&t.word, len(w))
					flags |= Number
				} else {
					flags |= Stop
				}
			}
			if flags&(Stop|Number) == 0 && flags&oldNonASCII == 0 {
				if sw := oldStem(w); len(sw) != len(w) || (len(sw) > 0 && sw[len(sw)-1] != w[len(w)-1]) {
					w = sw
					h = oldHashWord(&t.word, len(w)) // w is a prefix of t.word
				}
			}
		}
		flags &^= oldNonASCII
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

// oldNonASCII is an internal flag: the word has non-ASCII letters.
const oldNonASCII Flag = 1 << 7

// oldAsciiLower maps ASCII letters and digits to their lower-case form and
// every other byte to 0.
var oldAsciiLower = func() (t [256]byte) {
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

// oldScanWord reads one word starting at s[i] (a letter or digit) into t.word
// and returns its normalized length, the end offset, the hash of the
// normalized bytes and its flags.
func (t *oldTokenizer) oldScanWord(s string, i int) (n, end int, h uint64, flags Flag) {
	w := &t.word
	hs := oldWordHasher{h: oldHashSeed}
	allDigits := true
	content := t.Mode == Content
	if c := s[i]; c >= 'A' && c <= 'Z' {
		flags |= Upper
	}
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			l := oldAsciiLower[c]
			if l == 0 {
				if content && allDigits && n > 0 && (c == ',' || c == '.') {
					if c == ',' && oldThreeDigitsThenEnd(s, i+1) {
						i++ // thousands separator: "1,000" = "1000"
						continue
					}
					if c == '.' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9' && !oldHasDot(w[:n]) {
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
		flags |= oldNonASCII
		if n+utf8.UTFMax <= maxTokenBytes {
			k := utf8.EncodeRune(w[n:], unicode.ToLower(r))
			for _, b := range w[n : n+k] {
				hs.add(n, b)
				n++
			}
		}
		i += size
	}
	if content {
		if allDigits {
			flags |= Number
			if m := len(oldTrimDecimal(w[:n])); m != n {
				n = m
				return n, i, oldHashWord(w, n), flags
			}
		} else if k := oldLeadingDigits(w[:n]); k > 0 && oldIsNumberSuffix(w[k:n]) {
			// "3rd", "1990s", "16th" name the number.
			flags |= Number
			return k, i, oldHashWord(w, k), flags
		}
	}
	return n, i, hs.sum(n), flags
}

func oldHasDot(w []byte) bool {
	for _, c := range w {
		if c == '.' {
			return true
		}
	}
	return false
}

// oldThreeDigitsThenEnd reports whether s[i:] starts with exactly three digits.
func oldThreeDigitsThenEnd(s string, i int) bool {
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

// oldTrimDecimal drops trailing zeros of a decimal part ("2.50" = "2.5",
// "3.0" = "3") so formats of one value hash alike.
func oldTrimDecimal(w []byte) []byte {
	if !oldHasDot(w) {
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

func oldLeadingDigits(w []byte) int {
	k := 0
	for k < len(w) && w[k] >= '0' && w[k] <= '9' {
		k++
	}
	return k
}

func oldIsNumberSuffix(w []byte) bool {
	switch string(w) {
	case "st", "nd", "rd", "th", "s":
		return true
	}
	return false
}

// oldStem strips common English inflectional suffixes in place. It is a light
// stemmer (in the spirit of the S-stemmer of Harman 1991 extended with -ed,
// -ing, -ly and a final -e) chosen because a support check only needs
// "aired" = "air" and "titles" = "title", not Porter's full conflation, and
// it must cost a few nanoseconds. Non-ASCII words are left alone.
func oldStem(w []byte) []byte {
	n := len(w)
	if n <= 3 {
		return w
	}
	switch {
	case n > 4 && oldHasSuffix(w, "ies"):
		w = append(w[:n-3], 'y')
	case n > 4 && oldHasSuffix(w, "sses"):
		w = w[:n-2]
	case oldHasSuffix(w, "ss"), oldHasSuffix(w, "us"), oldHasSuffix(w, "is"):
	case n > 4 && (oldHasSuffix(w, "xes") || oldHasSuffix(w, "ches") || oldHasSuffix(w, "shes")):
		w = w[:n-2]
	case oldHasSuffix(w, "s"):
		w = w[:n-1]
	case n > 5 && oldHasSuffix(w, "ing"):
		w = oldUndouble(w[:n-3])
	case n > 4 && oldHasSuffix(w, "ied"):
		w = append(w[:n-3], 'y')
	case n > 4 && oldHasSuffix(w, "ed"):
		w = oldUndouble(w[:n-2])
	case n > 5 && oldHasSuffix(w, "ly"):
		w = w[:n-2]
	}
	// "base" and "based" both end as "bas".
	if len(w) > 3 && w[len(w)-1] == 'e' {
		w = w[:len(w)-1]
	}
	return w
}

func oldHasSuffix(w []byte, s string) bool {
	return len(w) >= len(s) && string(w[len(w)-len(s):]) == s
}

// oldUndouble turns "runn" (from "running") into "run".
func oldUndouble(w []byte) []byte {
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

// FuzzSameAsOld checks the tokenizer against the previous implementation:
// the same tokens (hash, offsets, flags) and the same normalized text, in
// both modes, for any input.
func FuzzSameAsOld(f *testing.F) {
	for _, s := range []string{
		benchText,
		"Hello, World!", "1,000 people", "1,000,000", "It cost 2.50 dollars", "3.0", "three cats",
		"the 3rd and 1990s", "aired based titles", "running studies", "Arthur's Magazine",
		"16-year-old", "Ünïcödé Straße", "1,00", "", "\xff\xfeabc", "1.2.3 4,5678 12345678,000.50",
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 themselves Seventeen",
		strings.Repeat("x", 100) + " an " + strings.Repeat("7", 70) + ".5",
		strings.Repeat("abcdefg", 9) + "é" + strings.Repeat("Z", 20),
		"naïve café 12é 1234567é élan ÉLAN hundreds THOUSAND",
		"a@b[c]`d{e}/f:g 0123456789.01234567,890",
	} {
		f.Add(s)
	}
	var tk Tokenizer
	var old oldTokenizer
	var got, want []Token
	f.Fuzz(func(t *testing.T, s string) {
		for _, m := range []Mode{Plain, Content} {
			tk = Tokenizer{Mode: m, KeepText: true, Text: tk.Text[:0]}
			old = oldTokenizer{Mode: m, KeepText: true, Text: old.Text[:0]}
			got = tk.Tokenize(got[:0], s)
			want = old.Tokenize(want[:0], s)
			if !slices.Equal(got, want) || string(tk.Text) != string(old.Text) {
				t.Fatalf("mode %d Tokenize(%q)\n got %v %q\nwant %v %q", m, s, got, tk.Text, want, old.Text)
			}
		}
	})
}

// TestSameAsOldRandom feeds FuzzSameAsOld's check random texts built from
// the bytes the fast paths treat specially, so plain go test covers them.
func TestSameAsOldRandom(t *testing.T) {
	pieces := []string{"a", "Z", "q", "0", "9", "5", ",", ".", " ", "\n", "!", "é", "É", "\xff", "ß", "-", "'",
		"three", "the", "THE", "ies", "sses", "ing", "ed", "ly", "s", "rd", "th", "000", "123", "@", "[", "`", "{", "/", ":"}
	r := rand.New(rand.NewPCG(1, 2))
	var tk Tokenizer
	var old oldTokenizer
	var got, want []Token
	var b strings.Builder
	for iter := 0; iter < 20000; iter++ {
		b.Reset()
		for k := r.IntN(60); k > 0; k-- {
			p := pieces[r.IntN(len(pieces))]
			if r.IntN(8) == 0 {
				p = strings.Repeat(p, r.IntN(40))
			}
			b.WriteString(p)
		}
		s := b.String()
		for _, m := range []Mode{Plain, Content} {
			tk = Tokenizer{Mode: m, KeepText: true, Text: tk.Text[:0]}
			old = oldTokenizer{Mode: m, KeepText: true, Text: old.Text[:0]}
			got = tk.Tokenize(got[:0], s)
			want = old.Tokenize(want[:0], s)
			if !slices.Equal(got, want) || string(tk.Text) != string(old.Text) {
				t.Fatalf("mode %d Tokenize(%q)\n got %v %q\nwant %v %q", m, s, got, tk.Text, want, old.Text)
			}
		}
	}
}
