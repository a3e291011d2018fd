package hashing

// Features says which hashed features Extract produces from normalized text.
// The zero value produces nothing; see Validate.
type Features struct {
	// Bits is the log2 of the number of hash buckets (weights).
	Bits uint8
	// Words adds one feature per word.
	Words bool
	// Bigrams adds one feature per pair of adjacent words.
	Bigrams bool
	// CharMin and CharMax bound the length of the character n-grams taken
	// inside each word padded with a space on both sides (0 disables them).
	// CharMax is at most 7.
	CharMin, CharMax uint8
}

// Valid reports whether f can be used by Extract.
func (f Features) Valid() bool {
	if f.Bits < 8 || f.Bits > 24 {
		return false
	}
	if f.CharMax != 0 && (f.CharMin < 1 || f.CharMin > f.CharMax || f.CharMax > 7) {
		return false
	}
	return f.Words || f.Bigrams || f.CharMax != 0
}

// Distinct tags keep the feature kinds apart in the shared hash space.
const (
	tagWord   = 0x1f3d5b79a3c5e7f1
	tagBigram = 0x5851f42d4c957f2d
	tagChar   = 0x2545f4914f6cdd1d
)

// mix is the 64-bit finalizer of MurmurHash3: cheap, and every input bit
// affects the top bits that become the bucket.
func mix(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

// WordHash is FNV-1a over the word's bytes: the hash of a word feature,
// also used by the injection detector's cue table.
func WordHash(w []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range w {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

// Extract appends the bucket of every feature of norm (from Normalize) to
// dst and returns it. A feature occurring twice appears twice.
func (f Features) Extract(dst []uint32, norm []byte) []uint32 {
	shift := 64 - uint(f.Bits)
	var prev uint64
	havePrev := false
	for i := 0; ; {
		s, e, ok := NextWord(norm, i)
		if !ok {
			break
		}
		i = e
		w := norm[s:e]
		h := WordHash(w)
		if f.Words {
			dst = append(dst, uint32(mix(h^tagWord)>>shift))
		}
		if f.Bigrams && havePrev {
			dst = append(dst, uint32(mix(prev*0x9e3779b97f4a7c15^h^tagBigram)>>shift))
		}
		prev, havePrev = h, true
		if f.CharMax != 0 {
			dst = f.appendChars(dst, w, shift)
		}
	}
	return dst
}

// appendChars appends the character n-grams of " w ". A rolling window of the
// last seven bytes makes every n-gram one mask and one multiply-shift
// (Fibonacci hashing, Knuth TAOCP vol. 3 §6.4), so the cost is a couple of
// multiplications per byte whatever the n-gram lengths.
func (f Features) appendChars(dst []uint32, w []byte, shift uint) []uint32 {
	lo, hi := int(f.CharMin), int(f.CharMax)
	var win uint64 = ' '
	cnt := 1
	for i := 0; i <= len(w); i++ {
		c := byte(' ')
		if i < len(w) {
			c = w[i]
		}
		win = win<<8 | uint64(c)
		cnt++
		for n := lo; n <= hi && n <= cnt; n++ {
			key := win&(1<<(8*uint(n))-1) | uint64(n)<<58
			dst = append(dst, uint32((key*0x9e3779b97f4a7c15)>>shift))
		}
	}
	return dst
}

// WordFeatures appends the buckets of the features that belong to the single
// word w alone (its word feature and its character n-grams), for evidence.
func (f Features) WordFeatures(dst []uint32, w []byte) []uint32 {
	shift := 64 - uint(f.Bits)
	if f.Words {
		dst = append(dst, uint32(mix(WordHash(w)^tagWord)>>shift))
	}
	if f.CharMax != 0 {
		dst = f.appendChars(dst, w, shift)
	}
	return dst
}

// BigramFeature returns the bucket of the bigram (a, b).
func (f Features) BigramFeature(a, b []byte) uint32 {
	shift := 64 - uint(f.Bits)
	return uint32(mix(WordHash(a)*0x9e3779b97f4a7c15^WordHash(b)^tagBigram) >> shift)
}
