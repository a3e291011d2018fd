package console

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Evidence kinds, in the order they win where marks overlap.
const (
	markToxic       = "tox"
	markUnsupported = "unsup"
	markInjection   = "inj"
)

// segment is a run of text with the evidence kinds that cover it (a
// toxic term inside an unsupported span carries both). The template
// escapes Text and nests a <mark> per kind.
type segment struct {
	Text            string
	Tox, Unsup, Inj bool
}

// word is a word of a text: its byte range and lowercased form.
type word struct {
	start, end int
	lower      string
}

// words splits s into runs of letters and digits (apostrophes inside a
// word kept), the way the detectors' normalizer sees words.
func words(s string) []word {
	var out []word
	start := -1
	for i, r := range s {
		in := unicode.IsLetter(r) || unicode.IsDigit(r) || (r == '\'' && start >= 0)
		if in && start < 0 {
			start = i
		}
		if !in && start >= 0 {
			out = append(out, word{start, i, strings.ToLower(strings.TrimRight(s[start:i], "'"))})
			start = -1
		}
	}
	if start >= 0 {
		out = append(out, word{start, len(s), strings.ToLower(strings.TrimRight(s[start:], "'"))})
	}
	return out
}

// occurrences returns the byte ranges where term occurs in ws as a
// sequence of words.
func occurrences(ws []word, term string) [][2]int {
	tw := words(term)
	if len(tw) == 0 {
		return nil
	}
	var out [][2]int
	for i := 0; i+len(tw) <= len(ws); i++ {
		ok := true
		for j := range tw {
			if ws[i+j].lower != tw[j].lower {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, [2]int{ws[i].start, ws[i+len(tw)-1].end})
		}
	}
	return out
}

// highlight marks in text every occurrence of each evidence term as a
// sequence of words (case-insensitive): evidence is stored in the
// detectors' normalized form (lowercased, punctuation dropped), so byte
// matching would miss "Idiot!" for "idiot". Terms that do not occur (a
// rule's description, a redacted value) are not marked; the page lists
// them beside the text.
func highlight(text string, evidence map[string][]string) []segment {
	if text == "" {
		return nil
	}
	ws := words(text)
	bits := make([]uint8, len(text))
	marked := false
	for kind, terms := range evidence {
		bit := map[string]uint8{markToxic: 1, markUnsupported: 2, markInjection: 4}[kind]
		for _, term := range terms {
			for _, r := range occurrences(ws, term) {
				for i := r[0]; i < r[1]; i++ {
					bits[i] |= bit
				}
				marked = true
			}
		}
	}
	if !marked {
		return []segment{{Text: text}}
	}
	var out []segment
	start := 0
	for i := 1; i <= len(text); i++ {
		if i < len(text) && (bits[i] == bits[start] || !utf8.RuneStart(text[i])) {
			continue
		}
		b := bits[start]
		out = append(out, segment{Text: text[start:i], Tox: b&1 != 0, Unsup: b&2 != 0, Inj: b&4 != 0})
		start = i
	}
	return out
}

// found reports which terms occur in any of texts (the page lists the
// others separately).
func found(terms []string, texts ...string) map[string]bool {
	out := map[string]bool{}
	for _, t := range texts {
		ws := words(t)
		for _, term := range terms {
			if len(occurrences(ws, term)) > 0 {
				out[term] = true
			}
		}
	}
	return out
}

// cut shortens s to at most n bytes on a rune boundary.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
