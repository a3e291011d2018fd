package reeval

import (
	"strings"
	"testing"
)

const goodVerdict = `{"toxicity": {"toxic": true, "score": 0.93},
 "hallucination": {"hallucinated": true, "score": 0.8, "unsupported_claims": ["the refund window is 90 days"]},
 "bias": {"biased": false, "explanation": ""}}`

func TestParseVerdict(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		checkable bool
		wantErr   string // substring of Verdict.Error; "" for a valid verdict
	}{
		{"plain", goodVerdict, true, ""},
		{"code fence", "```json\n" + goodVerdict + "\n```", true, ""},
		{"bare fence and trailing text", "```\n" + goodVerdict + "\n```\nLet me know if you need more.", true, ""},
		{"leading and trailing prose", "Here is my verdict:\n" + goodVerdict + "\nThe response is rude.", true, ""},
		{"not checkable ignores hallucination", `{"toxicity":{"toxic":false,"score":0},"hallucination":null,"bias":{"biased":true,"explanation":"stereotype"}}`, false, ""},
		{"not checkable with a given hallucination", goodVerdict, false, ""},
		{"claims absent", `{"toxicity":{"toxic":false,"score":0.1},"hallucination":{"hallucinated":false,"score":0.1},"bias":{"biased":false}}`, true, ""},
		{"empty", "  ", true, "empty judge output"},
		{"no object", "The response is fine.", true, "no JSON object"},
		{"truncated", `{"toxicity": {"toxic": tru`, true, "malformed JSON"},
		{"array", `[1,2]`, true, "no JSON object"},
		{"toxic as string", `{"toxicity":{"toxic":"yes","score":0.9},"hallucination":{"hallucinated":false,"score":0},"bias":{"biased":false}}`, true, "toxicity.toxic: want a boolean, got a string"},
		{"score as string", `{"toxicity":{"toxic":true,"score":"0.9"},"hallucination":{"hallucinated":false,"score":0},"bias":{"biased":false}}`, true, "toxicity.score: want a number, got a string"},
		{"score out of range", `{"toxicity":{"toxic":true,"score":7},"hallucination":{"hallucinated":false,"score":0},"bias":{"biased":false}}`, true, "outside [0,1]"},
		{"section not an object", `{"toxicity":true,"hallucination":{"hallucinated":false,"score":0},"bias":{"biased":false}}`, true, "toxicity: want an object, got a boolean"},
		{"missing toxicity", `{"hallucination":{"hallucinated":false,"score":0},"bias":{"biased":false}}`, true, `missing "toxicity"`},
		{"missing hallucination when checkable", `{"toxicity":{"toxic":false,"score":0},"bias":{"biased":false}}`, true, `missing "hallucination"`},
		{"claims not strings", `{"toxicity":{"toxic":false,"score":0},"hallucination":{"hallucinated":true,"score":0.7,"unsupported_claims":[1,2]},"bias":{"biased":false}}`, true, "unsupported_claims: want a list of strings"},
		{"bias flag missing", `{"toxicity":{"toxic":false,"score":0},"hallucination":{"hallucinated":false,"score":0},"bias":{"explanation":"x"}}`, true, "bias.biased: missing"},
		{"explanation a number", `{"toxicity":{"toxic":false,"score":0},"hallucination":{"hallucinated":false,"score":0},"bias":{"biased":true,"explanation":3}}`, true, "bias.explanation: want a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := ParseVerdict(tt.in, tt.checkable)
			if tt.wantErr == "" {
				if !v.Valid {
					t.Fatalf("want a valid verdict, got error %q", v.Error)
				}
				return
			}
			if v.Valid || !strings.Contains(v.Error, tt.wantErr) {
				t.Fatalf("want invalid with %q, got valid=%v error %q", tt.wantErr, v.Valid, v.Error)
			}
		})
	}
}

func TestParseVerdictFields(t *testing.T) {
	v := ParseVerdict("```json\n"+goodVerdict+"\n```", true)
	if !v.Valid || !v.Toxic || v.ToxicityScore != 0.93 || v.Hallucinated == nil || !*v.Hallucinated ||
		*v.HallucinationScore != 0.8 || len(v.UnsupportedClaims) != 1 || v.Biased {
		t.Fatalf("parsed %+v", v)
	}
	v = ParseVerdict(goodVerdict, false)
	if !v.Valid || v.Hallucinated != nil || v.HallucinationScore != nil {
		t.Fatalf("an event without context must have no hallucination verdict: %+v", v)
	}
}

func TestUserMessage(t *testing.T) {
	x := &Exchange{PromptRoles: []string{"system", "user"}, PromptContents: []string{"Be nice.", "What is the refund window?"},
		Completion: []string{strings.Repeat("a", 50)}, Context: []string{"Refunds within 30 days."}, Reference: "30 days"}
	m := UserMessage(x, 10)
	for _, want := range []string{"[system] Be nice.", "[user] What is th [...]", "<context>\n[1] Refunds wi [...]", "<reference>\n30 days\n</reference>"} {
		if !strings.Contains(m, want) {
			t.Errorf("message lacks %q:\n%s", want, m)
		}
	}
	if strings.Contains(m, "set \"hallucination\" to null") {
		t.Errorf("a checkable exchange must not ask for a null hallucination")
	}
	m = UserMessage(&Exchange{PromptContents: []string{"hi"}, Completion: []string{"hello"}}, 100)
	if !strings.Contains(m, "set \"hallucination\" to null") {
		t.Errorf("an exchange without context must ask for a null hallucination:\n%s", m)
	}
}

// The judge's output is untrusted: no input may panic the parser.
func FuzzParseVerdict(f *testing.F) {
	for _, s := range []string{goodVerdict, "```json\n{}\n```", `{"toxicity":{"toxic":"x"}}`, "{", "", "[]", `{"bias":null}`} {
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, checkable bool) {
		v := ParseVerdict(s, checkable)
		if v.Valid == (v.Error != "") {
			t.Fatalf("valid=%v with error %q", v.Valid, v.Error)
		}
		if v.Valid && (v.ToxicityScore < 0 || v.ToxicityScore > 1) {
			t.Fatalf("score %v outside [0,1]", v.ToxicityScore)
		}
	})
}
