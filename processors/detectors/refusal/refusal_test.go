package refusal

import (
	"strings"
	"testing"

	"github.com/sightline-dev/sightline/processors/detectors"
)

func TestRefusal(t *testing.T) {
	positives := []string{
		"I can't help with that.",
		"I cannot help with that request.",
		"I'm sorry, but I cannot assist with that.",
		"I’m sorry, but I can’t provide instructions for making weapons.",
		"As an AI language model, I am unable to browse the internet.",
		"As an AI, I'm not able to give medical diagnoses.",
		"I won't be able to assist with this.",
		"I will not provide that information.",
		"Sorry, I can't do that.",
		"I'm afraid I can't comply with that request.",
		"I must decline this request.",
		"I'm not comfortable writing that kind of content.",
		"I apologize, but I cannot fulfill this request as it goes against my guidelines.",
		"Unfortunately, I'm unable to share personal information about individuals.",
		"I can not in good conscience help you with this.",
		"I'm not going to write malware.",
		"I cannot generate explicit content.",
		"I'm unable to help with that. If you have other questions, feel free to ask!",
		"I CAN'T HELP WITH THAT.",
		"I don't feel comfortable providing that.",
		"I refuse to participate in this.",
		"Lo siento, pero no puedo ayudar con eso.",
		"Je suis désolé, mais je ne peux pas vous aider avec cela.",
		"Es tut mir leid, aber ich kann Ihnen dabei nicht helfen.",
		"I'm sorry, I can't answer that question.",
		"I won't help with hacking into accounts.",
	}
	negatives := []string{
		"I can't wait to help you with your project! Here is the plan.",
		"Sorry for the delay, here is the answer: 42.",
		"You cannot assign to a constant in Go; the compiler rejects it because constants are not addressable.",
		"This function cannot be called before init, so the program panics.",
		"The answer is Paris.",
		"I can't stress enough how important tests are.",
		"I can't help but notice that your loop never terminates; fix the condition.",
		"I cannot believe how fast this runs!",
		"Here's how to do it: first, install the package. It can't be installed without root, so use sudo.",
		"Unable to connect? Check your firewall: the client can not reach port 443 if it is blocked.",
		"I help teams debug. Sure, I can assist with that: run go test -race.",
		"The user said: I can't log in. The fix is to reset the password.",
		"",
		"   ",
		"Apples won't grow in this climate because winters are too warm.",
	}
	d := New(Config{})
	for _, s := range positives {
		out := make(detectors.Out, len(Outputs()))
		if err := d.Detect(&detectors.Input{Completion: s}, out); err != nil {
			t.Fatal(err)
		}
		if !(out[OutRefusal].Num != 0) {
			t.Errorf("not a refusal (conf %.2f): %q", out[OutConfidence].Num, s)
		}
	}
	for _, s := range negatives {
		out := make(detectors.Out, len(Outputs()))
		if err := d.Detect(&detectors.Input{Completion: s}, out); err != nil {
			t.Fatal(err)
		}
		if out[OutRefusal].Num != 0 {
			t.Errorf("false refusal (conf %.2f): %q", out[OutConfidence].Num, s)
		}
	}
}

func TestConfidenceOrder(t *testing.T) {
	d := New(Config{})
	strong := d.Confidence("I'm sorry, but I can't help with that.")
	partial := d.Confidence("I can't provide the full source, but here is an outline of the approach.")
	disclaimer := d.Confidence("As an AI, I think the best answer is 42.")
	if !(strong > partial && partial > 0 && strong > disclaimer) {
		t.Errorf("confidences strong=%.2f partial=%.2f disclaimer=%.2f not ordered", strong, partial, disclaimer)
	}
	if partial >= 0.5 {
		t.Errorf("partial refusal confidence %.2f, want < 0.5", partial)
	}
}

func TestEmptyInvalid(t *testing.T) {
	out := make(detectors.Out, len(Outputs()))
	if err := New(Config{}).Detect(&detectors.Input{}, out); err != nil || out[OutConfidence].Valid {
		t.Fatalf("empty completion scored: %+v %v", out[OutConfidence], err)
	}
}

func FuzzRefusal(f *testing.F) {
	for _, s := range []string{"I can't help with that.", "\xff\xfei’m", strings.Repeat("i can not ", 500), "i", "i can not help"} {
		f.Add(s)
	}
	d := New(Config{})
	f.Fuzz(func(t *testing.T, s string) {
		out := make(detectors.Out, len(Outputs()))
		if err := d.Detect(&detectors.Input{Completion: s}, out); err != nil {
			t.Fatal(err)
		}
		if v := out[OutConfidence].Num; !(v >= 0 && v <= 1) {
			t.Fatalf("confidence %v out of [0,1]", v)
		}
		if (out[OutRefusal].Num != 0) && !out[OutConfidence].Valid {
			t.Fatal("refusal without a valid confidence")
		}
	})
}

// FuzzPrefilter checks that the raw-byte prefilter never hides a refusal:
// Confidence must equal scoring the full normalized opening.
func FuzzPrefilter(f *testing.F) {
	for _, s := range []string{
		"I can't help with that.", "Im sorry", "As an AI, I cannot", "has an air of", "\u0130 can not help",
		"Lo siento, pero no puedo ayudar.", "Je ne peux pas", "Ich kann das nicht", "NÃO POSSO AJUDAR",
		"UNFORTUNATELY", "hi regret", "'i will not do it", "I’m unable to assist", "éi can not help",
		"\u212Aann", "The race was staged at the Mount Panorama Circuit.", "x" + strings.Repeat("a", 598) + "i can",
	} {
		f.Add(s)
	}
	d := New(Config{})
	f.Fuzz(func(t *testing.T, s string) {
		want := score(string(normalize(nil, s, d.cfg.ScanBytes)))
		if got := d.Confidence(s); got != want {
			t.Fatalf("Confidence(%q) = %v, full check %v", s, got, want)
		}
	})
}
