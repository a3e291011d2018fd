package window

import (
	"math"
	"strings"
	"unicode/utf8"

	"github.com/sightline-dev/sightline/schemas"
	"github.com/sightline-dev/sightline/schemas/eventpb"
)

// FNV-1a 64 finished with the splitmix64 mixer: fixed, seedless, stable
// across processes and releases (the samples and caps depend on it, so a
// restarted stage must hash the same way).
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func hashString(s string) uint64 {
	h := uint64(fnvOffset)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return mix64(h)
}

func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// eventHash is the sampling hash of an event: its event_id, or, for events
// without one, its timestamp and duration.
func eventHash(ev *eventpb.Event) uint64 {
	if id := ev.GetEventId(); id != "" {
		return hashString(id)
	}
	ts := ev.GetTs()
	return mix64(uint64(ts.GetSeconds())*1_000_000_007 ^ uint64(ts.GetNanos()) ^ math.Float64bits(ev.GetDurationMs()))
}

// cloneLabel copies a label for keeping, cut to maxLabelBytes on a rune
// boundary and made valid UTF-8 (protobuf strings must be).
func cloneLabel(s string) string {
	s = schemas.CutUTF8(s, maxLabelBytes)
	if !utf8.ValidString(s) {
		return strings.ToValidUTF8(s, "\uFFFD")
	}
	return strings.Clone(s)
}

// labelOf returns the label under which s is kept, without allocating when
// s is already a valid, short label.
func labelOf(s string) string {
	if len(s) <= maxLabelBytes && utf8.ValidString(s) {
		return s
	}
	return cloneLabel(s)
}

// promptText returns the text the prompt features are computed from: the
// last user message (what varies between calls; system prompts are mostly
// constant), else the last prompt message.
func promptText(ev *eventpb.Event) string {
	p := ev.GetPrompt()
	for i := len(p) - 1; i >= 0; i-- {
		if p[i].GetRole() == "user" {
			return p[i].GetContent()
		}
	}
	if len(p) > 0 {
		return p[len(p)-1].GetContent()
	}
	return ""
}

// scriptOf classifies text by the script most of its letters belong to,
// reading at most max bytes. ASCII is decided byte by byte; other runes by
// Unicode block.
func scriptOf(s string, max int) int {
	if len(s) > max {
		s = s[:max]
	}
	var counts [numScripts]int
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if (c|0x20) >= 'a' && (c|0x20) <= 'z' {
				counts[scriptLatin]++
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r >= 0x00C0 && r <= 0x024F, r >= 0x1E00 && r <= 0x1EFF:
			counts[scriptLatin]++
		case r >= 0x0370 && r <= 0x03FF, r >= 0x1F00 && r <= 0x1FFF:
			counts[scriptGreek]++
		case r >= 0x0400 && r <= 0x052F:
			counts[scriptCyrillic]++
		case r >= 0x0590 && r <= 0x05FF:
			counts[scriptHebrew]++
		case r >= 0x0600 && r <= 0x06FF, r >= 0x0750 && r <= 0x077F, r >= 0x08A0 && r <= 0x08FF:
			counts[scriptArabic]++
		case r >= 0x0900 && r <= 0x097F:
			counts[scriptDevanagari]++
		case r >= 0x3040 && r <= 0x30FF, r >= 0x3400 && r <= 0x4DBF, r >= 0x4E00 && r <= 0x9FFF,
			r >= 0xAC00 && r <= 0xD7AF, r >= 0xF900 && r <= 0xFAFF:
			counts[scriptCJK]++
		case r >= 0x00A0 && r <= 0x00BF, r == utf8.RuneError:
			// punctuation, symbols, invalid bytes: no script
		default:
			if r >= 0x0080 {
				counts[scriptOther]++
			}
		}
	}
	best, bestN := scriptOther, 0
	for i, n := range counts {
		if n > bestN {
			best, bestN = i, n
		}
	}
	return best
}

// textEmbedding writes into out (len dims) the hashed bag of word unigrams
// and bigrams of s (lower-cased ASCII letters and digits, and any non-ASCII
// bytes, form words; at most max bytes read), each feature adding ±1 to the
// dimension its hash selects, then scales it to unit length. It reports
// false when s has no words.
func textEmbedding(s string, max int, out []float32) bool {
	clear(out)
	if len(s) > max {
		s = s[:max]
	}
	dims := uint64(len(out))
	var prev uint64
	havePrev, any := false, false
	for i := 0; i < len(s); {
		for i < len(s) && !wordByte(s[i]) {
			i++
		}
		if i >= len(s) {
			break
		}
		h := uint64(fnvOffset)
		for i < len(s) && wordByte(s[i]) {
			c := s[i]
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			h ^= uint64(c)
			h *= fnvPrime
			i++
		}
		w := mix64(h)
		addHashed(out, dims, w)
		if havePrev {
			addHashed(out, dims, mix64(prev*31+w+0x9e3779b97f4a7c15))
		}
		prev, havePrev, any = w, true, true
	}
	if !any {
		return false
	}
	return normalize(out)
}

func wordByte(c byte) bool {
	return c >= 0x80 || (c >= '0' && c <= '9') || ((c|0x20) >= 'a' && (c|0x20) <= 'z')
}

func addHashed(out []float32, dims, h uint64) {
	if h>>63 == 1 {
		out[h%dims]--
	} else {
		out[h%dims]++
	}
}

// projectEmbedding hashes an event's own embedding of any length into out
// (feature hashing: component i adds ±x_i to dimension hash(i) mod dims),
// then scales to unit length; false for an empty or zero vector.
func projectEmbedding(v []float32, out []float32) bool {
	clear(out)
	dims := uint64(len(out))
	for i, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			continue
		}
		h := mix64(uint64(i) + 0x632be59bd9b4e019)
		if h>>63 == 1 {
			out[h%dims] -= x
		} else {
			out[h%dims] += x
		}
	}
	return normalize(out)
}

func normalize(v []float32) bool {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	if !(s > 0) || math.IsInf(s, 0) {
		return false
	}
	inv := 1 / math.Sqrt(s)
	for i, x := range v {
		v[i] = float32(float64(x) * inv)
	}
	return true
}

// topicOf is the topic bucket of a unit embedding: the sign bits of bits
// fixed pseudo-random ±1 projections (a locality-sensitive hash, so similar
// prompts share a bucket).
func topicOf(v []float32, bits int) int {
	t := 0
	for b := 0; b < bits; b++ {
		var dot float64
		for i, x := range v {
			if mix64(uint64(b)<<32|uint64(i)+0x2545f4914f6cdd1d)>>63 == 1 {
				dot -= float64(x)
			} else {
				dot += float64(x)
			}
		}
		if dot > 0 {
			t |= 1 << b
		}
	}
	return t
}
