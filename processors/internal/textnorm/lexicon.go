package textnorm

type lexEntry struct {
	hash   uint64
	digits string // non-empty for number words
}

// lexicon is a fixed open-addressing table keyed by the FNV hash of the
// lower-cased word: one probe per token instead of string comparisons.
var lexicon, lexMask = buildLexicon()

var numberWords = map[string]string{
	"zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
	"seven": "7", "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12",
	"thirteen": "13", "fourteen": "14", "fifteen": "15", "sixteen": "16", "seventeen": "17",
	"eighteen": "18", "nineteen": "19", "twenty": "20", "thirty": "30", "forty": "40", "fifty": "50",
	"sixty": "60", "seventy": "70", "eighty": "80", "ninety": "90", "hundred": "100", "thousand": "1000",
}

func buildLexicon() ([]lexEntry, uint64) {
	words := append([]string(nil), stopwords...)
	for w := range numberWords {
		words = append(words, w)
	}
	size := 1
	for size < 4*len(words) {
		size <<= 1
	}
	tab := make([]lexEntry, size)
	mask := uint64(size - 1)
	for _, w := range words {
		h := HashString(w)
		i := mix(h) & mask
		for tab[i].hash != 0 && tab[i].hash != h {
			i = (i + 1) & mask
		}
		tab[i] = lexEntry{hash: h, digits: numberWords[w]}
	}
	return tab, mask
}

func lookupLexicon(h uint64) *lexEntry {
	i := mix(h) & lexMask
	for {
		e := &lexicon[i]
		if e.hash == h {
			return e
		}
		if e.hash == 0 {
			return nil
		}
		i = (i + 1) & lexMask
	}
}

// IsStopword reports whether the lower-cased word w is in the stopword list.
func IsStopword(w string) bool {
	e := lookupLexicon(HashString(w))
	return e != nil && e.digits == ""
}
