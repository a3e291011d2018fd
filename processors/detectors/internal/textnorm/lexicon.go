package textnorm

// lexicon is a fixed open-addressing table keyed by the hash of the
// lower-cased word: one probe per token instead of string comparisons. The
// hashes sit in their own array (8 KiB, stays in L1) and are indexed by
// their low bits, already mixed by hashFinal; lexDigits holds the digits of
// the number words at the same index.
var lexHash, lexDigits, lexMask = buildLexicon()

// maxLexLen is the length of the longest stopword or number word: longer
// tokens skip the lookup.
var maxLexLen = func() int {
	m := 0
	for _, w := range stopwords {
		m = max(m, len(w))
	}
	for w := range numberWords {
		m = max(m, len(w))
	}
	return m
}()

var numberWords = map[string]string{
	"zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
	"seven": "7", "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12",
	"thirteen": "13", "fourteen": "14", "fifteen": "15", "sixteen": "16", "seventeen": "17",
	"eighteen": "18", "nineteen": "19", "twenty": "20", "thirty": "30", "forty": "40", "fifty": "50",
	"sixty": "60", "seventy": "70", "eighty": "80", "ninety": "90", "hundred": "100", "thousand": "1000",
}

func buildLexicon() ([]uint64, []string, uint64) {
	words := append([]string(nil), stopwords...)
	for w := range numberWords {
		words = append(words, w)
	}
	size := 1
	for size < 4*len(words) {
		size <<= 1
	}
	hashes := make([]uint64, size)
	digits := make([]string, size)
	mask := uint64(size - 1)
	for _, w := range words {
		h := HashString(w)
		i := h & mask
		for hashes[i] != 0 && hashes[i] != h {
			i = (i + 1) & mask
		}
		hashes[i], digits[i] = h, numberWords[w]
	}
	return hashes, digits, mask
}

// lookupLexicon returns the index of h in the lexicon, or -1.
func lookupLexicon(h uint64) int {
	i := h & lexMask
	for {
		v := lexHash[i]
		if v == h {
			return int(i)
		}
		if v == 0 {
			return -1
		}
		i = (i + 1) & lexMask
	}
}
