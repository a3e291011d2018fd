package injection

import (
	"github.com/sightline-dev/sightline/processors/detectors/internal/hashing"
)

// A cue is a hand-written phrase that signals an attempt to steer the model
// away from its instructions. Cues are matched on normalized words (see
// hashing.Normalize), so case, punctuation and spacing do not matter. Each
// belongs to a category; the presence of a category is one dense feature of
// the linear model, whose weight is learned from data. Categories rather than
// single phrases carry weights so that a phrase the data never shows still
// inherits the weight its siblings earned.
//
// The lists are kept to wording that is specific to attacks; single words
// that are common in ordinary requests ("ignore", "system", "password") are
// left to the learned n-gram weights and to the proximity rules below.

// Cue categories, the dense features of the model.
const (
	catOverride     = iota // ignore/forget previous instructions
	catPersona             // DAN and other unrestricted personas
	catMode                // developer/god/maintenance mode
	catExfiltration        // reveal the system prompt or hidden instructions
	catSecret              // ask for a secret, password or key
	catNoLimits            // no restrictions, no filters, no ethics
	catFakeRole            // forged system/assistant turns, authority claims
	catHypothetical        // fiction and hypotheticals used as a wrapper
	catOutput              // dictate the output to smuggle content out
	catEncoding            // decode-and-follow, ciphers, payload splitting
	catForeign             // override wording in other languages
	catEmbedded            // instructions addressed to the AI inside data
	numCategories
)

var categoryNames = [numCategories]string{
	"override", "persona", "mode", "exfiltration", "secret", "no_limits",
	"fake_role", "hypothetical", "output", "encoding", "foreign", "embedded",
}

var cuePhrases = [numCategories][]string{
	catOverride: {
		"ignore previous instructions", "ignore all previous", "ignore the above", "ignore all prior",
		"ignore prior", "ignore your instructions", "ignore everything", "disregard previous",
		"disregard prior", "disregard all", "disregard the above", "disregard your", "forget previous",
		"forget all previous", "forget everything", "forget your instructions", "forget all prior",
		"override your", "new instructions", "instead of following", "previous instructions",
		"prior instructions", "above instructions", "earlier instructions", "original instructions",
		"you have been told", "you were told", "been instructed", "stop following",
		"do not follow your", "no longer bound", "rules are void", "previous rules",
	},
	catPersona: {
		"dan which", "as dan", "called dan", "dan mode", "dan has", "dan can", "do anything now", "jailbreak", "jailbroken", "stay in character", "evil assistant",
		"evil ai", "unfiltered ai", "unrestricted ai", "unrestricted model", "you are now", "from now on you",
		"from now on", "act as an ai", "pretend you are", "pretend to be", "roleplay as", "role play as",
		"opposite mode", "broken free", "freed from", "immerse yourself", "another ai",
		"no longer an ai", "never refuses",
	},
	catMode: {
		"developer mode", "dev mode", "god mode", "debug mode", "admin mode", "maintenance mode",
		"sudo mode", "unrestricted mode", "jailbreak mode", "system upgrade", "security audit",
		"diagnostic mode", "root access", "enable developer", "test mode",
	},
	catExfiltration: {
		"system prompt", "your prompt", "your instructions", "initial instructions", "hidden instructions",
		"hidden prompt", "your initial", "secret instructions", "repeat everything above",
		"repeat the words above", "repeat the text above", "everything above this", "text above",
		"verbatim", "what were you told", "were you given", "start of this conversation",
		"your rules", "your configuration", "your guidelines", "confidential configuration",
	},
	catSecret: {
		"secret key", "the password", "your password", "the secret", "your secret", "passcode",
		"secret code", "api key", "api keys", "access code", "admin password", "credentials",
		"confirm the password",
	},
	catNoLimits: {
		"no restrictions", "without restrictions", "without any restrictions", "no limitations",
		"without any limitations", "without limitations", "no filters", "without any filters",
		"no content policy", "content policies", "no ethical", "no moral", "no morals", "without ethics",
		"ethical guidelines", "moral guidelines", "uncensored", "unfiltered", "restrictions are lifted",
		"no rules", "any limitations", "safety settings", "safety guidelines", "no special filtering",
	},
	catFakeRole: {
		"system message", "new system", "system note", "system override", "im start", "inst",
		"i am your developer", "im your developer", "i am your creator", "as your developer",
		"i am the admin", "i am an administrator", "i authorize", "authorized by", "i am god",
		"assistant instructions", "admin override",
	},
	catHypothetical: {
		"hypothetically", "hypothetical scenario", "imagine you are", "imagine that you",
		"in a fictional world", "fictional story where", "for a novel", "lets play a game",
		"play a game", "in this game", "you had no rules", "deceased grandmother", "my grandmother used to",
	},
	catOutput: {
		"begin your reply with", "begin your response with", "start your response with",
		"respond only with", "reply only with", "output only", "pwned",
		"spell out", "as an acrostic",
	},
	catEncoding: {
		"base64", "rot13", "decode this", "morse code", "hexadecimal", "pig latin", "cipher",
		"follow the instructions inside", "string z", "z a b", "concatenate",
	},
	catForeign: {
		"ignora", "ignore las", "olvida", "instrucciones", "anteriores", "contraseña", "ignorez",
		"oubliez", "précédentes", "mot de passe", "vergiss", "ignoriere", "anweisungen", "vorherigen",
		"passwort", "istruzioni", "precedenti", "dimentica", "senha", "instruções", "anteriormente",
		"パスワード", "密码", "пароль", "инструкции",
	},
	catEmbedded: {
		"note to the ai", "attention ai", "ai assistant", "to the assistant", "instructions for you",
		"you are an ai", "language model reading", "assistant must", "ai screening", "chat history", "email the conversation", "forward all",
		"delete all", "and instead", "instead reply", "instead write", "instead output",
	},
}

// Proximity rules: a verb of one class followed within proximityWindow words
// by an object of the other fires a category. They catch the endless
// rewordings ("overlook all that you've been instructed before") that no
// phrase list can enumerate.
const proximityWindow = 5

const (
	clsOverrideVerb = 1 << iota
	clsOverrideObj
	clsRevealVerb
	clsRevealObj
)

var wordClasses = []struct {
	cls   uint8
	words []string
}{
	{clsOverrideVerb, []string{"ignore", "ignoring", "disregard", "disregarding", "forget", "forgetting",
		"overlook", "override", "bypass", "neglect", "skip", "abandon", "discard", "dismiss", "drop",
		"circumvent", "cancel", "void", "erase", "reset"}},
	{clsOverrideObj, []string{"instructions", "instruction", "directives", "directive", "rules", "guidelines",
		"prompt", "prompts", "commands", "programming", "restrictions", "constraints", "told", "instructed",
		"policies", "policy", "filters", "training", "guidance", "orders", "above", "previous", "prior", "earlier"}},
	{clsRevealVerb, []string{"reveal", "print", "show", "output", "repeat", "tell", "display", "leak",
		"share", "disclose", "spell", "dump", "recite", "quote", "expose", "confirm", "give"}},
	{clsRevealObj, []string{"prompt", "instructions", "secret", "password", "passwords", "key", "token",
		"credentials", "confidential", "hidden", "initial", "passcode", "private"}},
}

// Evidence strings for the proximity rules (static, so no allocation and
// nothing from the text itself).
const (
	evOverrideRule = "ignore/forget … instructions"
	evRevealRule   = "reveal … secret/prompt"
)

// cueEntry is one slot of the open-addressing table keyed by phrase hash.
type cueEntry struct {
	key     uint64
	cat     int8 // -1: no phrase here, only word classes
	cls     uint8
	phrase  string
	present bool
}

const (
	cueTableBits = 11
	maxPhrase    = 4
)

var cueTable = buildCueTable()

// phraseStep combines word hashes from the last word backwards, so matching
// extends a phrase one word to the left with one multiplication.
const phraseSeed = 0x243f6a8885a308d3

func phraseStep(h, word uint64) uint64 { return (h ^ word) * 0x9e3779b97f4a7c15 }

func buildCueTable() *[1 << cueTableBits]cueEntry {
	var t [1 << cueTableBits]cueEntry
	insert := func(key uint64, fill func(e *cueEntry)) {
		for i := key >> (64 - cueTableBits); ; i = (i + 1) & (1<<cueTableBits - 1) {
			e := &t[i]
			if !e.present {
				*e = cueEntry{key: key, cat: -1, present: true}
			}
			if e.key == key {
				fill(e)
				return
			}
		}
	}
	var norm []byte
	for cat, phrases := range cuePhrases {
		for _, p := range phrases {
			norm = hashing.Normalize(norm[:0], p)
			var words [maxPhrase]uint64
			n := 0
			for i := 0; ; {
				s, e, ok := hashing.NextWord(norm, i)
				if !ok {
					break
				}
				if n == maxPhrase {
					panic("injection: cue phrase longer than 4 words: " + p)
				}
				words[n] = hashing.WordHash(norm[s:e])
				n++
				i = e
			}
			if n == 0 {
				panic("injection: empty cue phrase")
			}
			h := uint64(phraseSeed)
			for i := n - 1; i >= 0; i-- {
				h = phraseStep(h, words[i])
			}
			insert(h, func(e *cueEntry) {
				if e.cat < 0 {
					e.cat, e.phrase = int8(cat), p
				}
			})
		}
	}
	for _, wc := range wordClasses {
		for _, w := range wc.words {
			h := phraseStep(phraseSeed, hashing.WordHash([]byte(w)))
			insert(h, func(e *cueEntry) { e.cls |= wc.cls })
		}
	}
	return &t
}

func lookupCue(key uint64) *cueEntry {
	t := cueTable
	for i := key >> (64 - cueTableBits); ; i = (i + 1) & (1<<cueTableBits - 1) {
		e := &t[i]
		if !e.present {
			return nil
		}
		if e.key == key {
			return e
		}
	}
}

// matchCues scans norm (from hashing.Normalize) for cue phrases and the
// proximity rules.
func matchCues(c *hashing.CueMatch, norm []byte) {
	var ring [maxPhrase]uint64 // hashes of the last words, ring[pos%maxPhrase]
	pos := 0
	lastOverrideVerb, lastRevealVerb := -proximityWindow-1, -proximityWindow-1
	for i := 0; ; {
		s, e, ok := hashing.NextWord(norm, i)
		if !ok {
			break
		}
		i = e
		ring[pos%maxPhrase] = hashing.WordHash(norm[s:e])
		h := uint64(phraseSeed)
		for n := 1; n <= maxPhrase && n <= pos+1; n++ {
			h = phraseStep(h, ring[(pos-n+1)%maxPhrase])
			ent := lookupCue(h)
			if ent == nil {
				continue
			}
			if ent.cat >= 0 {
				c.Set(int(ent.cat), ent.phrase)
			}
			if n != 1 {
				continue
			}
			if ent.cls&clsOverrideObj != 0 && pos-lastOverrideVerb <= proximityWindow && pos != lastOverrideVerb {
				c.Set(catOverride, evOverrideRule)
			}
			if ent.cls&clsRevealObj != 0 && pos-lastRevealVerb <= proximityWindow && pos != lastRevealVerb {
				c.Set(catExfiltration, evRevealRule)
			}
			if ent.cls&clsOverrideVerb != 0 {
				lastOverrideVerb = pos
			}
			if ent.cls&clsRevealVerb != 0 {
				lastRevealVerb = pos
			}
		}
		pos++
	}
}
