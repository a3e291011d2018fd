package refusal

import (
	"strings"
	"sync"
	"unicode/utf8"
	"unsafe"

	"github.com/sightline-dev/sightline/processors/detectors"
	"github.com/sightline-dev/sightline/schemas"
)

// Config configures the detector. The zero value is the default.
type Config struct {
	// Disabled turns the detector off. Default false.
	Disabled bool
	// Threshold is the confidence at or above which refusal is set.
	// Default 0.5.
	Threshold float64
	// ScanBytes bounds how much of the completion's start is read:
	// refusals open the answer, and a bound keeps huge completions cheap.
	// Default 600.
	ScanBytes int
}

func (c Config) withDefaults() Config {
	if c.Threshold <= 0 || c.Threshold > 1 {
		c.Threshold = 0.5
	}
	if c.ScanBytes <= 0 {
		c.ScanBytes = 600
	}
	return c
}

// Positions of the detector's outputs (Outputs).
const (
	OutRefusal    = iota // refusal
	OutConfidence        // refusal_confidence
	numOutputs           // how many (Detect checks out against it without building Outputs)
)

// Outputs declares the detector's outputs with the default threshold.
func Outputs() []detectors.Output { return outputs(Config{}.withDefaults().Threshold) }

func outputs(threshold float64) []detectors.Output {
	return []detectors.Output{
		OutRefusal: {Name: "refusal", Kind: detectors.Flag, Rate: "refusal"},
		OutConfidence: {Name: "refusal_confidence", Kind: detectors.Probability, Threshold: threshold,
			Eval: &detectors.Eval{Name: "refusal", Positive: "refused", Negative: "answered"}},
	}
}

// Detector flags completions in which the model declines the request. It is
// safe for concurrent use.
type Detector struct {
	cfg  Config
	pool sync.Pool
}

var _ detectors.Detector = (*Detector)(nil)

// New returns a detector with cfg (zero fields take their defaults).
func New(cfg Config) *Detector {
	d := &Detector{cfg: cfg.withDefaults()}
	d.pool.New = func() any { b := make([]byte, 0, 2*d.cfg.ScanBytes+16); return &b }
	return d
}

// Name returns "refusal".
func (d *Detector) Name() string { return "refusal" }

// Outputs declares the outputs with the detector's threshold.
func (d *Detector) Outputs() []detectors.Output { return outputs(d.cfg.Threshold) }

// Detect implements detectors.Detector: it sets refusal and
// refusal_confidence (whenever there is a completion).
func (d *Detector) Detect(in *detectors.Input, out detectors.Out) error {
	if d.cfg.Disabled || in == nil || len(out) < numOutputs {
		return nil
	}
	if strings.TrimSpace(in.Completion) == "" {
		return nil
	}
	c := d.Confidence(in.Completion)
	out.Set(OutConfidence, c)
	out.SetFlag(OutRefusal, c >= d.cfg.Threshold)
	return nil
}

// Confidence returns the confidence in [0,1] that completion is a refusal.
//
// The opening of the completion is normalized (lower case, ’ to ', runs of
// non-letters to one space, contractions expanded: "can't" = "can not",
// "I'm" = "i am") and searched for a first-person refusal: "i" with a
// negated ability or will ("can not", "will not", "am unable to", "am not
// able to", "am not going to", ...) followed within three words by a verb
// of serving the request (help, assist, provide, comply, ...), or a bare
// decline ("i must decline", "i do not feel comfortable"). The confidence is
//
//	0.9  a refusal within the first sentence (0.95 with an apology or
//	     "as an AI" before it)
//	0.7  a refusal later in the scanned opening
//	×0.5 when the refusal is followed by compliance ("but here is", ...)
//	0.3  an apology or "as an AI" disclaimer without a refusal
//	0    otherwise.
func (d *Detector) Confidence(completion string) float64 {
	if !mayRefuse(opening(completion, d.cfg.ScanBytes)) {
		return 0
	}
	bp := d.pool.Get().(*[]byte)
	defer d.pool.Put(bp)
	s := normalize((*bp)[:0], completion, d.cfg.ScanBytes)
	*bp = s[:0]
	// string(s) would copy the whole opening to the heap (the compiler's
	// stack buffer holds only 32 bytes); score reads s and keeps nothing.
	return score(unsafe.String(unsafe.SliceData(s), len(s)))
}

// opening returns at most max bytes of s, cut at a rune start.
func opening(s string, max int) string {
	s = schemas.CutUTF8(s, max)
	return s
}

// isAlnum marks ASCII letters and digits, the bytes that continue a word.
var isAlnum = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	return t
}()

// mayRefuse reports whether the raw opening s holds anything score can
// act on, scanning bytes case-insensitively without normalizing: the word
// "I" (or "I'm", "Im"), "ai" at a word start ("as an AI"), "sorry",
// "unfortunately", "apologize", "regret", or a stem of the foreign forms
// ("puedo", "peux", "kann", "posso"). Every phrase score looks for in the
// normalized text contains one of these in the raw text, so false means a
// confidence of 0. Most answers have none, and normalizing 600 bytes cost
// several times this scan. "İ" and the Kelvin sign lower-case to ASCII
// letters, so their presence sends the text to the full check.
func mayRefuse(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !stemStart[c] {
			continue
		}
		if c >= utf8.RuneSelf {
			if (c == 0xC4 && i+1 < len(s) && s[i+1] == 0xB0) || (c == 0xE2 && strings.HasPrefix(s[i:], "\u212A")) {
				return true
			}
			continue
		}
		c |= 0x20 // lower case for letters; other bytes never match below
		wordStart := i == 0 || !isAlnum[s[i-1]]
		switch c {
		case 'i':
			if !wordStart {
				continue
			}
			if i+1 == len(s) || !isAlnum[s[i+1]] {
				return true
			}
			if s[i+1]|0x20 == 'm' && (i+2 == len(s) || !isAlnum[s[i+2]]) {
				return true
			}
		case 'a':
			if wordStart && i+1 < len(s) && s[i+1]|0x20 == 'i' {
				return true
			}
			if hasFoldPrefix(s[i:], "apologize") {
				return true
			}
		case 's':
			if hasFoldPrefix(s[i:], "sorry") {
				return true
			}
		case 'u':
			if hasFoldPrefix(s[i:], "unfortunately") {
				return true
			}
		case 'r':
			if hasFoldPrefix(s[i:], "regret") {
				return true
			}
		case 'p':
			if hasFoldPrefix(s[i:], "puedo") || hasFoldPrefix(s[i:], "peux") || hasFoldPrefix(s[i:], "posso") {
				return true
			}
		case 'k':
			if hasFoldPrefix(s[i:], "kann") {
				return true
			}
		}
	}
	return false
}

// stemStart marks the bytes mayRefuse must look at: the first letters of
// its stems in both cases and the lead bytes of "İ" and the Kelvin sign.
var stemStart = func() (t [256]bool) {
	for _, c := range "iasurpk" {
		t[c], t[c-'a'+'A'] = true, true
	}
	t[0xC4], t[0xE2] = true, true
	return t
}()

// hasFoldPrefix reports whether s starts with the lower-case ASCII word w,
// ignoring ASCII case.
func hasFoldPrefix(s, w string) bool {
	if len(s) < len(w) {
		return false
	}
	for k := 0; k < len(w); k++ {
		if s[k]|0x20 != w[k] {
			return false
		}
	}
	return true
}

func score(s string) float64 {
	pos := findRefusal(s)
	apology := hasAny(s, apologies)
	if pos < 0 {
		if other := foreignRefusal(s); other {
			return 0.85
		}
		if apology >= 0 && apology < 40 {
			return 0.3
		}
		return 0
	}
	conf := 0.7
	if firstSentence(s, pos) {
		conf = 0.9
		if apology >= 0 && apology < pos {
			conf = 0.95
		}
	}
	if hasAny(s[pos:], compliance) >= 0 {
		conf *= 0.5
	}
	return conf
}

// firstSentence reports whether pos lies in the first sentence or within
// the first 160 bytes of s.
func firstSentence(s string, pos int) bool {
	if pos < 160 {
		return true
	}
	return !strings.ContainsAny(s[:pos], ".!?\n")
}

func hasAny(s string, needles []string) int {
	best := -1
	for _, n := range needles {
		if i := strings.Index(s, n); i >= 0 && (best < 0 || i < best) {
			best = i
		}
	}
	return best
}

var apologies = []string{"i am sorry", "i apologize", "sorry", "unfortunately", "as an ai", "i regret"}

// compliance marks a partial refusal that goes on to answer.
var compliance = []string{"but here is", "but here are", "however here is", "however here are", "but i can", "however i can", "instead here", "but you can", "here is a", "here are some"}

// heads are the negated-ability phrases after "i ". Those ending in "to"
// or a modal need a serving verb after them; "decline"-like heads stand alone.
var heads = []struct {
	s         string
	needsVerb bool
}{
	{"can not ", true},
	{"could not ", true},
	{"will not ", true},
	{"would not ", true},
	{"am unable to ", true},
	{"am not able to ", true},
	{"will be unable to ", true},
	{"will not be able to ", true},
	{"would not be able to ", true},
	{"am not going to ", true},
	{"am not allowed to ", true},
	{"am not permitted to ", true},
	{"do not think i can ", true},
	{"have to decline", false},
	{"must decline", false},
	{"must refuse", false},
	{"refuse to ", false},
	{"do not feel comfortable", false},
	{"am not comfortable", false},
	{"am afraid i can not ", true},
}

// verbs serve a request; a refusal says the assistant will not do one.
var verbs = map[string]bool{
	"help": true, "assist": true, "provide": true, "comply": true, "fulfill": true, "fulfil": true,
	"do": true, "create": true, "generate": true, "write": true, "share": true, "give": true,
	"answer": true, "support": true, "engage": true, "participate": true, "produce": true,
	"offer": true, "complete": true, "continue": true, "discuss": true, "make": true, "process": true,
	"perform": true, "disclose": true, "reveal": true, "facilitate": true, "condone": true,
	"endorse": true, "recommend": true, "encourage": true, "tell": true, "access": true,
	"browse": true, "respond": true, "accommodate": true, "satisfy": true, "grant": true,
	"draft": true, "compose": true, "design": true, "develop": true, "supply": true, "say": true,
	"that": true, "this": true, "it": true, "so": true, "with": true,
}

// fillers may stand between the head and the verb ("can not directly
// help", "can not in good conscience assist").
var fillers = map[string]bool{
	"really": true, "directly": true, "in": true, "good": true, "conscience": true, "ethically": true,
	"legally": true, "personally": true, "possibly": true, "actually": true, "be": true, "able": true,
	"to": true, "you": true, "further": true, "fully": true,
}

// findRefusal returns the offset of the first refusal in s, or -1.
func findRefusal(s string) int {
	for from := 0; from < len(s); {
		k := strings.Index(s[from:], "i ")
		if k < 0 {
			return -1
		}
		at := from + k
		from = at + 2
		if at > 0 && s[at-1] != ' ' {
			continue
		}
		rest := s[at+2:]
		for _, h := range heads {
			if !strings.HasPrefix(rest, h.s) {
				continue
			}
			if !h.needsVerb {
				return at
			}
			if verbFollows(rest[len(h.s):]) {
				return at
			}
		}
	}
	return -1
}

// verbFollows reports whether a serving verb comes within the next four
// words, allowing fillers before it.
func verbFollows(s string) bool {
	for i := 0; i < 4 && s != ""; i++ {
		w := s
		next := ""
		if j := strings.IndexByte(s, ' '); j >= 0 {
			w, next = s[:j], s[j+1:]
		}
		if w == "help" {
			// "i can not help but notice", "can not help feeling" are not refusals.
			nw := next
			if j := strings.IndexByte(nw, ' '); j >= 0 {
				nw = nw[:j]
			}
			return nw != "but" && !strings.HasSuffix(nw, "ing")
		}
		if verbs[w] {
			return true
		}
		if !fillers[w] {
			return false
		}
		s = next
	}
	return false
}

// foreign holds basic refusals in a few other languages, normalized like
// the text (accents kept, apostrophes kept).
var foreign = []string{
	"no puedo ayudar", "no puedo proporcionar", "no puedo hacer eso", "no puedo cumplir", "lo siento pero no puedo",
	"je ne peux pas", "je suis désolé mais je ne peux", "ich kann ihnen dabei nicht helfen", "ich kann dir dabei nicht helfen",
	"ich kann dabei nicht helfen", "ich kann das nicht", "non posso aiutarti", "non posso fornire", "non posso aiutare",
	"não posso ajudar", "não posso fornecer",
}

func foreignRefusal(s string) bool {
	return hasAny(s, foreign) >= 0
}

// normalize writes the lower-cased, contraction-expanded opening of s
// (at most max source bytes) to dst, one space between words.
func normalize(dst []byte, s string, max int) []byte {
	s = schemas.CutUTF8(s, max)
	space := true
	wordStart := 0
	for i := 0; i < len(s); {
		c := s[i]
		size := 1
		var r rune = rune(c)
		if c >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(s[i:])
		}
		i += size
		switch {
		case r >= 'A' && r <= 'Z':
			r += 'a' - 'A'
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
		case r == '\'' || r == '’' || r == 'ʼ':
			if !space {
				r = '\''
				break
			}
			continue
		case r == '.' || r == '!' || r == '?' || r == '\n':
			// Keep sentence ends for firstSentence, as their own word.
			if !space {
				dst = expand(dst, wordStart)
				dst = append(dst, ' ')
			}
			dst = append(dst, byte(r), ' ')
			space = true
			wordStart = len(dst)
			continue
		case r > utf8.RuneSelf && r != utf8.RuneError && isLetter(r):
			dst = utf8.AppendRune(dst, toLower(r))
			space = false
			continue
		default:
			if !space {
				dst = expand(dst, wordStart)
				dst = append(dst, ' ')
				space = true
				wordStart = len(dst)
			}
			continue
		}
		dst = append(dst, byte(r))
		space = false
	}
	if !space {
		dst = expand(dst, wordStart)
		dst = append(dst, ' ')
	}
	return dst
}

// expand rewrites the contraction that starts at dst[start:] into its long
// form so one phrase list covers both spellings.
func expand(dst []byte, start int) []byte {
	w := string(dst[start:]) // no allocation: compared, not kept
	var long string
	switch w {
	case "can't", "cannot", "cant":
		long = "can not"
	case "won't", "wont":
		long = "will not"
	case "i'm", "im":
		long = "i am"
	case "don't", "dont":
		long = "do not"
	case "couldn't":
		long = "could not"
	case "wouldn't":
		long = "would not"
	case "i'll":
		long = "i will"
	case "i'd":
		long = "i would"
	case "isn't":
		long = "is not"
	default:
		return dst
	}
	return append(dst[:start], long...)
}
