package pii

import (
	"bufio"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/sightline-dev/sightline/processors/detectors"
)

type labeled struct {
	kinds []string
	text  string
}

func readLabeled(t *testing.T) []labeled {
	t.Helper()
	f, err := os.Open("testdata/labeled.tsv")
	if err != nil {
		t.Fatalf("cannot open labeled set: %v", err)
	}
	defer f.Close()
	var out []labeled
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, text, ok := strings.Cut(line, "\t")
		if !ok {
			t.Fatalf("bad line %q", line)
		}
		var kinds []string
		if k != "-" {
			kinds = strings.Split(k, ",")
			slices.Sort(kinds)
		}
		out = append(out, labeled{kinds, strings.ReplaceAll(text, `\n`, "\n")})
	}
	return out
}

// TestLabeled measures precision and recall per kind on testdata/labeled.tsv
// (a row counts as one decision per kind) and asserts lower bounds.
func TestLabeled(t *testing.T) {
	rows := readLabeled(t)
	d := New(Config{})
	type pr struct{ tp, fp, fn int }
	stats := map[string]*pr{}
	for _, n := range kindNames {
		stats[n] = &pr{}
	}
	for _, r := range rows {
		out := make(detectors.Out, len(Outputs()))
		if err := d.Detect(&detectors.Input{Completion: r.text}, out); err != nil {
			t.Fatal(err)
		}
		for _, k := range out[OutKinds].List {
			if slices.Contains(r.kinds, k) {
				stats[k].tp++
			} else {
				stats[k].fp++
				t.Logf("false %s: %q", k, r.text)
			}
		}
		for _, k := range r.kinds {
			if !slices.Contains(out[OutKinds].List, k) {
				stats[k].fn++
				t.Logf("missed %s: %q", k, r.text)
			}
		}
	}
	var tp, fp, fn int
	for _, n := range kindNames {
		s := stats[n]
		tp, fp, fn = tp+s.tp, fp+s.fp, fn+s.fn
		p, r := ratio(s.tp, s.tp+s.fp), ratio(s.tp, s.tp+s.fn)
		t.Logf("%-12s precision %.3f recall %.3f (tp %d fp %d fn %d)", n, p, r, s.tp, s.fp, s.fn)
		if p < 0.9 || r < 0.8 {
			t.Errorf("%s: precision %.3f (floor 0.9) recall %.3f (floor 0.8)", n, p, r)
		}
	}
	t.Logf("all kinds: precision %.3f recall %.3f over %d rows", ratio(tp, tp+fp), ratio(tp, tp+fn), len(rows))
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 1
	}
	return float64(a) / float64(b)
}

func TestRedact(t *testing.T) {
	in := "mail jane@example.com, card 4111 1111 1111 1111, ip 10.0.0.1"
	got, kinds := Redact(in, Of(Email, CreditCard))
	want := "mail [REDACTED:email], card [REDACTED:credit_card], ip 10.0.0.1"
	if got != want {
		t.Errorf("Redact = %q, want %q", got, want)
	}
	if !slices.Equal(kinds, []Kind{CreditCard, Email}) {
		t.Errorf("kinds = %v", kinds)
	}
	if got, kinds := Redact("nothing here", AllKinds); got != "nothing here" || kinds != nil {
		t.Errorf("Redact(clean) = %q, %v", got, kinds)
	}
}

func TestNeverValues(t *testing.T) {
	out := make(detectors.Out, len(Outputs()))
	in := &detectors.Input{Prompt: "jane@example.com", Completion: "SSN 123-45-6789"}
	if err := New(Config{}).Detect(in, out); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(out[OutKinds].List, []string{"email", "us_ssn"}) {
		t.Fatalf("PIIKinds = %q", out[OutKinds].List)
	}
}

func FuzzPII(f *testing.F) {
	f.Add("jane@example.com 4111 1111 1111 1111 +44 20 7946 0958 ::1")
	f.Add("\xff@\xfe.co -----BEGIN EC PRIVATE KEY-----")
	f.Add(strings.Repeat("1-", 5000) + strings.Repeat("@a.", 3000))
	f.Add("eyJa.eyJb.cccccccccc DE89 3704 0044 0532 0130 00")
	d := New(Config{})
	f.Fuzz(func(t *testing.T, s string) {
		out := make(detectors.Out, len(Outputs()))
		if err := d.Detect(&detectors.Input{Prompt: s, Completion: s}, out); err != nil {
			t.Fatal(err)
		}
		if !slices.IsSorted(out[OutKinds].List) || len(slices.Compact(slices.Clone(out[OutKinds].List))) != len(out[OutKinds].List) {
			t.Fatalf("kinds not sorted unique: %q", out[OutKinds].List)
		}
		for _, k := range out[OutKinds].List {
			if _, ok := ParseKind(k); !ok {
				t.Fatalf("unknown kind %q", k)
			}
		}
		r, kinds := Redact(s, AllKinds)
		if len(kinds) == 0 && r != s {
			t.Fatal("Redact changed text without findings")
		}
	})
}
