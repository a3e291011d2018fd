package refusal

import "unicode"

func isLetter(r rune) bool { return unicode.IsLetter(r) }
func toLower(r rune) rune  { return unicode.ToLower(r) }
