package injection

import (
	"bufio"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/sightline-dev/sightline/internal/devdata"
)

func readLines(t testing.TB, path string) []string {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

func TestExperiment(t *testing.T) {
	if os.Getenv("PI_EXP") == "" {
		t.Skip()
	}
	ex, err := LoadExamples(devdata.Require(t, "prompt_injection.dev.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultTrainConfig()
	if v := os.Getenv("L2"); v != "" {
		cfg.L2, _ = strconv.ParseFloat(v, 64)
	}
	if v := os.Getenv("L2C"); v != "" {
		cfg.L2Cue, _ = strconv.ParseFloat(v, 64)
	}
	if v := os.Getenv("CMIN"); v != "" {
		n, _ := strconv.Atoi(v)
		cfg.CharMin = uint8(n)
	}
	if v := os.Getenv("CMAX"); v != "" {
		n, _ := strconv.Atoi(v)
		cfg.CharMax = uint8(n)
	}
	r, _, err := CrossValidate(ex, Augmentation(), cfg, 5)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v AUC %.4f", cfg, r.AUC)
	m, err := Train(append(ex, Augmentation()...), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"testdata/benign_heldout.txt", "testdata/attack_heldout.txt"} {
		var sc []float64
		for _, l := range readLines(t, f) {
			p := m.Score(l)
			sc = append(sc, p)
			if os.Getenv("V") != "" {
				t.Logf("%.3f %v %.50s", p, m.Evidence(nil, l, 3), l)
			}
		}
		sort.Float64s(sc)
		t.Logf("%s min %.3f median %.3f max %.3f", f, sc[0], sc[len(sc)/2], sc[len(sc)-1])
	}
}
