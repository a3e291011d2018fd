package reeval

import (
	"strings"
	"testing"
)

// Parsing is per verdict, next to a judge call that takes hundreds of
// milliseconds: this only guards against a pathological regression.
func BenchmarkParseVerdict(b *testing.B) {
	in := "```json\n" + goodVerdict + "\n```\nThat is my assessment."
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if v := ParseVerdict(in, true); !v.Valid {
			b.Fatal(v.Error)
		}
	}
}

func BenchmarkUserMessage(b *testing.B) {
	x := &Exchange{PromptRoles: []string{"system", "user"}, PromptContents: []string{"Be helpful.", strings.Repeat("question ", 200)},
		Completion: []string{strings.Repeat("answer ", 400)}, Context: []string{strings.Repeat("passage ", 300), strings.Repeat("more ", 300)}}
	b.ReportAllocs()
	for b.Loop() {
		_ = UserMessage(x, 6000)
	}
}
