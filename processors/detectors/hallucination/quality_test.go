package hallucination

import (
	"bufio"
	"encoding/json"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/sightline-dev/sightline/internal/devdata"
)

type qaRow struct {
	ID        string   `json:"id"`
	Group     string   `json:"group"`
	Question  string   `json:"question"`
	Knowledge string   `json:"knowledge"`
	Answer    string   `json:"answer"`
	Label     string   `json:"label"`
	Correct   []string `json:"correct_answers"`
}

func readRows(t *testing.T, name string) []qaRow {
	t.Helper()
	p := devdata.Require(t, name)
	f, err := os.Open(p)
	if err != nil {
		t.Fatalf("cannot open %s: %v", p, err)
	}
	defer f.Close()
	var rows []qaRow
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var r qaRow
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("cannot decode %s: %v", p, err)
		}
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("cannot read %s: %v", p, err)
	}
	return rows
}

// auc is the ROC-AUC of scores for positives vs negatives, computed as the
// Mann-Whitney U statistic over all (positive, negative) pairs with ties
// counted one half.
func auc(pos, neg []float64) float64 {
	if len(pos) == 0 || len(neg) == 0 {
		return 0
	}
	n := append([]float64(nil), neg...)
	sort.Float64s(n)
	var u float64
	for _, p := range pos {
		lo := sort.SearchFloat64s(n, p)
		hi := sort.Search(len(n), func(i int) bool { return n[i] > p })
		u += float64(lo) + 0.5*float64(hi-lo)
	}
	return u / float64(len(pos)*len(neg))
}

// lengthMatched is the rule for "similar length" pairs: the token-length
// ratio of the two answers (whitespace-separated tokens) lies in [0.67, 1.5].
func lengthMatched(a, b string) bool {
	la, lb := len(strings.Fields(a)), len(strings.Fields(b))
	if la == 0 || lb == 0 {
		return false
	}
	r := float64(la) / float64(lb)
	return r >= 0.67 && r <= 1.5
}

func TestQuality(t *testing.T) {
	rows := readRows(t, "hallucination_qa.dev.jsonl")
	d := New(Config{})
	type pair struct{ faithful, halluc *qaRow }
	groups := map[string]*pair{}
	score := map[string]float64{}
	var pos, neg []float64
	for i := range rows {
		r := &rows[i]
		res := d.Score(r.Answer, r.Question, "", []string{r.Knowledge}, "")
		if !res.Valid || res.Risk < 0 || res.Risk > 1 {
			t.Fatalf("%s: invalid result %+v", r.ID, res)
		}
		score[r.ID] = res.Risk
		p := groups[r.Group]
		if p == nil {
			p = &pair{}
			groups[r.Group] = p
		}
		if r.Label == "hallucinated" {
			p.halluc = r
			pos = append(pos, res.Risk)
		} else {
			p.faithful = r
			neg = append(neg, res.Risk)
		}
	}
	var mpos, mneg []float64
	var wins, ties, npairs int
	for _, p := range groups {
		if p.faithful == nil || p.halluc == nil {
			continue
		}
		npairs++
		sh, sf := score[p.halluc.ID], score[p.faithful.ID]
		if sh > sf {
			wins++
		} else if sh == sf {
			ties++
		}
		if lengthMatched(p.faithful.Answer, p.halluc.Answer) {
			mpos = append(mpos, sh)
			mneg = append(mneg, sf)
		}
	}
	all := auc(pos, neg)
	matched := auc(mpos, mneg)
	t.Logf("rows=%d pairs=%d ROC-AUC overall=%.3f", len(rows), npairs, all)
	t.Logf("length-matched pairs (token ratio in [0.67,1.5]): %d, ROC-AUC=%.3f", len(mpos), matched)
	t.Logf("pairwise: hallucinated scored higher in %.3f of pairs, tied in %.3f", float64(wins)/float64(npairs), float64(ties)/float64(npairs))
	if all < 0.92 {
		t.Errorf("ROC-AUC overall %.3f below the floor 0.92", all)
	}
	if matched < 0.85 {
		t.Errorf("ROC-AUC on length-matched pairs %.3f below the floor 0.85", matched)
	}
	if testing.Verbose() && os.Getenv("HALU_DUMP") != "" {
		for _, p := range groups {
			if p.faithful == nil || p.halluc == nil {
				continue
			}
			if score[p.faithful.ID] >= score[p.halluc.ID] {
				t.Logf("MISS q=%q\n  R(%.2f)=%q\n  H(%.2f)=%q", p.faithful.Question, score[p.faithful.ID], p.faithful.Answer, score[p.halluc.ID], p.halluc.Answer)
			}
		}
	}
}

// TestQualityLongCorrect guards against answer length leaking into the
// score: HaluEval's hallucinated answers are much longer than the right ones,
// so a detector that learned "long = wrong" would look good on the file. Each
// faithful answer that occurs in the knowledge is rebuilt as a long answer:
// a preamble that restates it, then the knowledge sentence that contains it,
// copied verbatim. These correct long answers must keep a low risk and must
// still rank below the (shorter or similar) hallucinated answers.
func TestQualityLongCorrect(t *testing.T) {
	rows := readRows(t, "hallucination_qa.dev.jsonl")
	d := New(Config{})
	var long, halluc []float64
	var sum float64
	for _, r := range rows {
		if r.Label == "hallucinated" {
			halluc = append(halluc, d.Score(r.Answer, r.Question, "", []string{r.Knowledge}, "").Risk)
			continue
		}
		sent := sentenceWith(r.Knowledge, r.Answer)
		if sent == "" {
			continue
		}
		la := "The answer is " + r.Answer + ". As the source says, " + sent
		res := d.Score(la, r.Question, "", []string{r.Knowledge}, "")
		long = append(long, res.Risk)
		sum += res.Risk
	}
	if len(long) == 0 {
		t.Fatal("no long answers built")
	}
	mean := sum / float64(len(long))
	a := auc(halluc, long)
	t.Logf("correct long answers: n=%d mean risk=%.3f; ROC-AUC hallucinated vs long correct=%.3f", len(long), mean, a)
	if mean > 0.15 {
		t.Errorf("mean risk of correct long answers %.3f above 0.15", mean)
	}
	if a < 0.85 {
		t.Errorf("ROC-AUC hallucinated vs long correct %.3f below 0.85", a)
	}
}

// sentenceWith returns the sentence of text that contains ans (case
// insensitive), or "".
func sentenceWith(text, ans string) string {
	lt, la := strings.ToLower(text), strings.ToLower(strings.TrimSpace(ans))
	i := strings.Index(lt, la)
	if la == "" || i < 0 {
		return ""
	}
	start := strings.LastIndexAny(text[:i], ".!?") + 1
	end := strings.IndexAny(text[i+len(la):], ".!?")
	if end < 0 {
		end = len(text)
	} else {
		end += i + len(la) + 1
	}
	return strings.TrimSpace(text[start:end])
}

// TestQualityTruthfulQA is a sanity check on another distribution: TruthfulQA
// answers scored against the correct answers as reference (no context).
// Correct answers paraphrase each other loosely, so lexical support barely separates them (negations and
// near-paraphrases dominate); the bar only guards against a broken detector.
func TestQualityTruthfulQA(t *testing.T) {
	rows := readRows(t, "hallucination_truthfulqa.dev.jsonl")
	d := New(Config{})
	var pos, neg []float64
	for _, r := range rows {
		if len(r.Correct) == 0 {
			continue
		}
		// Leave the row's own answer out of the reference so a correct
		// answer is not trivially supported by itself.
		var ref []string
		for _, c := range r.Correct {
			if c != r.Answer {
				ref = append(ref, c)
			}
		}
		if len(ref) == 0 {
			continue
		}
		res := d.Score(r.Answer, r.Question, "", nil, strings.Join(ref, ". "))
		if r.Label == "hallucinated" {
			pos = append(pos, res.Risk)
		} else {
			neg = append(neg, res.Risk)
		}
	}
	a := auc(pos, neg)
	t.Logf("TruthfulQA: %d hallucinated, %d faithful, ROC-AUC=%.3f", len(pos), len(neg), a)
	if a < 0.53 {
		t.Errorf("TruthfulQA ROC-AUC %.3f below 0.53", a)
	}
}
