package refmetrics

import (
	"math"
	"strings"
	"testing"

	"github.com/sightline-dev/sightline/processors/detectors"
)

// The expected values were computed once by testdata/reference_values.py
// (/usr/bin/python3 with Debian's python3-nltk 3.8): BLEU is
// nltk.translate.bleu_score.sentence_bleu([ref_tokens], cand_tokens,
// smoothing_function=SmoothingFunction().method1) with tokens
// re.findall(r"[a-z0-9]+", s.lower()); ROUGE-L F1 is the LCS dynamic program
// in that script; F1 and EM follow the SQuAD 2.0 evaluation script's
// normalize_answer / compute_f1. Tolerance 1e-9.
var refCases = []struct {
	cand, ref        string
	rougeL, bleu, f1 float64
	em               float64
}{
	{"the cat sat on the mat", "the cat sat on the mat", 1.0000000000, 1.0000000000, 1.0000000000, 1},
	{"the cat is on the mat", "there is a cat on the mat", 0.6153846154, 0.1943309444, 0.8888888889, 0},
	{"a quick brown fox", "the quick brown fox jumps over the lazy dog", 0.4615384615, 0.1139244393, 0.6000000000, 0},
	{"hello world", "goodbye moon", 0.0000000000, 0.0000000000, 0.0000000000, 0},
	{"Paris is the capital of France.", "The capital of France is Paris.", 0.6666666667, 0.5623413252, 1.0000000000, 0},
	{"It first aired in September 2006, on Nickelodeon.", "The series first aired on Nickelodeon in September 2006.", 0.5882352941, 0.1783098675, 0.8750000000, 0},
	{"The answer is 1,000 people!", "1000 people", 0.2500000000, 0.0408248290, 0.6666666667, 0},
}

const tol = 1e-9

func TestCompute(t *testing.T) {
	d := New(Config{})
	for _, tt := range refCases {
		m := d.Compute(tt.cand, tt.ref)
		check := func(name string, got, want float64) {
			if math.Abs(got-want) > tol {
				t.Errorf("%s(%q, %q) = %.10f, want %.10f", name, tt.cand, tt.ref, got, want)
			}
		}
		check("RougeL", m.RougeL, tt.rougeL)
		check("BLEU", m.BLEU, tt.bleu)
		check("TokenF1", m.TokenF1, tt.f1)
		check("ExactMatch", m.ExactMatch, tt.em)
	}
}

func TestExactMatchSQuAD(t *testing.T) {
	d := New(Config{})
	tests := []struct {
		cand, ref string
		want      float64
	}{
		{"The Eiffel Tower!", "eiffel tower", 1},
		{"an apple", "Apple.", 1},
		{"U.S.", "us", 1},
		{"Paris, France", "Paris", 0},
		{"", "x", 0},
	}
	for _, tt := range tests {
		if got := d.Compute(tt.cand, tt.ref).ExactMatch; got != tt.want {
			t.Errorf("EM(%q, %q) = %v, want %v", tt.cand, tt.ref, got, tt.want)
		}
	}
}

// TestLCSLong checks the bit-parallel LCS against the textbook table on
// sequences longer than one 64-bit word.
func TestLCSLong(t *testing.T) {
	st := new(state)
	var a, b []uint64
	for i := 0; i < 300; i++ {
		a = append(a, uint64(i*7%13))
		b = append(b, uint64(i*5%11))
	}
	want := lcsTable(a, b)
	if got := lcsLen(st, a, b); got != want {
		t.Fatalf("lcsLen = %d, want %d", got, want)
	}
	if got := lcsLen(st, b[:130], a[:70]); got != lcsTable(b[:130], a[:70]) {
		t.Fatalf("lcsLen short = %d, want %d", got, lcsTable(b[:130], a[:70]))
	}
}

func lcsTable(a, b []uint64) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for i := range a {
		for j := range b {
			if a[i] == b[j] {
				cur[j+1] = prev[j] + 1
			} else {
				cur[j+1] = max(prev[j+1], cur[j])
			}
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func TestDetectNoReference(t *testing.T) {
	out := make(detectors.Out, len(Outputs()))
	if err := New(Config{}).Detect(&detectors.Input{Completion: "x", Reference: " \n"}, out); err != nil {
		t.Fatal(err)
	}
	if out[OutRougeL].Valid || out[OutBLEU].Valid || out[OutTokenF1].Valid || out[OutExactMatch].Valid {
		t.Fatalf("scored without a reference: %+v", out)
	}
}

func FuzzRefMetrics(f *testing.F) {
	for _, c := range refCases {
		f.Add(c.cand, c.ref)
	}
	f.Add("\xff\xfe the", "\xff")
	f.Add(strings.Repeat("a b ", 3000), strings.Repeat("b a ", 2000))
	d := New(Config{MaxTokens: 512})
	f.Fuzz(func(t *testing.T, cand, ref string) {
		out := make(detectors.Out, len(Outputs()))
		if err := d.Detect(&detectors.Input{Completion: cand, Reference: ref}, out); err != nil {
			t.Fatal(err)
		}
		for _, o := range []detectors.Value{out[OutRougeL], out[OutBLEU], out[OutTokenF1], out[OutExactMatch]} {
			if o.Valid && !(o.Num >= 0 && o.Num <= 1+1e-12) {
				t.Fatalf("value %v out of [0,1]", o.Num)
			}
		}
		if out[OutRougeL].Valid {
			m := d.Compute(ref, cand)
			if math.Abs(m.RougeL-out[OutRougeL].Num) > 1e-9 || math.Abs(m.TokenF1-out[OutTokenF1].Num) > 1e-9 {
				t.Fatalf("ROUGE-L/F1 not symmetric: %v vs %v", m, out)
			}
		}
	})
}

// lcsLen is the LCS length of two sequences of token hashes, through the
// same symbol table and bit-parallel LCS as Compute.
func lcsLen(st *state, a, b []uint64) int {
	st.sym.Reset(len(b))
	st.refID = st.refID[:0]
	nsym := 0
	for _, h := range b {
		id := st.sym.Get(h)
		if id == 0 {
			nsym++
			id = int32(nsym)
			st.sym.Add(h, id)
		}
		st.refID = append(st.refID, uint32(id))
	}
	st.candID = st.candID[:0]
	for _, h := range a {
		st.candID = append(st.candID, uint32(st.sym.Get(h)))
	}
	return lcsIDs(st, st.candID, st.refID, nsym)
}
