package console

import (
	"strings"
	"testing"
)

func marked(segs []segment) (tox, unsup, inj []string) {
	for _, s := range segs {
		if s.Tox {
			tox = append(tox, s.Text)
		}
		if s.Unsup {
			unsup = append(unsup, s.Text)
		}
		if s.Inj {
			inj = append(inj, s.Text)
		}
	}
	return
}

func TestHighlight(t *testing.T) {
	text := "Shut the FUCK up, you stupid bitch! Nobody gives a shit about your 129.99 order."
	segs := highlight(text, map[string][]string{
		markToxic:       {"fuck", "stupid bitch", "absent"},
		markUnsupported: {"Nobody gives a shit", "129.99"},
	})
	var joined strings.Builder
	for _, s := range segs {
		joined.WriteString(s.Text)
	}
	if joined.String() != text {
		t.Fatalf("segments do not rebuild the text: %q", joined.String())
	}
	tox, unsup, _ := marked(segs)
	if strings.Join(tox, "|") != "FUCK|stupid bitch" {
		t.Fatalf("toxic marks %q", tox)
	}
	if strings.Join(unsup, "|") != "Nobody gives a shit|129.99" {
		t.Fatalf("unsupported marks %q", unsup)
	}
	// A toxic term inside an unsupported span carries both marks.
	both := highlight("you stupid idiot", map[string][]string{markToxic: {"idiot"}, markUnsupported: {"stupid idiot"}})
	if len(both) != 3 || !both[2].Tox || !both[2].Unsup || both[1].Tox || !both[1].Unsup {
		t.Fatalf("nested marks %+v", both)
	}
	// Words only: "ass" is not marked inside "class".
	if tox, _, _ := marked(highlight("a class act", map[string][]string{markToxic: {"ass"}})); len(tox) != 0 {
		t.Fatalf("marked inside a word: %q", tox)
	}
	if f := found([]string{"stupid bitch", "ignore/forget … instructions"}, text); !f["stupid bitch"] || f["ignore/forget … instructions"] {
		t.Fatalf("found %v", f)
	}
	if highlight("", nil) != nil {
		t.Fatal("empty text")
	}
}
