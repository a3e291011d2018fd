package hashing

// IsStopword reports whether w (normalized) is a common English function
// word. Detectors skip these when citing evidence: a pronoun can carry weight
// in a model yet tells a reader nothing about why a text was flagged. It is
// never used for scoring.
func IsStopword(w []byte) bool {
	switch string(w) { // the conversion does not allocate in a switch
	case "a", "an", "the", "and", "or", "but", "of", "to", "in", "on", "at", "for", "with", "by",
		"is", "are", "was", "were", "be", "been", "am", "do", "does", "did", "have", "has", "had",
		"i", "me", "my", "you", "your", "yours", "he", "him", "his", "she", "her", "it", "its",
		"we", "us", "our", "they", "them", "their", "this", "that", "these", "those", "what",
		"which", "who", "whom", "how", "why", "when", "where", "there", "here", "so", "as", "if",
		"not", "no", "can", "will", "would", "should", "could", "just", "all", "any", "from", "up",
		"out", "about", "into", "than", "then", "too", "very", "im", "dont", "u", "ur", "ya", "lol":
		return true
	}
	return false
}
