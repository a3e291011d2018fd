package toxicity

import (
	"os"
	"strconv"
	"testing"

	"github.com/sightline-dev/sightline/internal/devdata"
)

func TestExperiment(t *testing.T) {
	if os.Getenv("TOX_EXP") == "" {
		t.Skip()
	}
	ex, err := LoadExamples(devdata.Require(t, "toxicity.dev.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultTrainConfig()
	if v := os.Getenv("L2"); v != "" {
		cfg.L2, _ = strconv.ParseFloat(v, 64)
	}
	if v := os.Getenv("IT"); v != "" {
		cfg.Iterations, _ = strconv.Atoi(v)
	}
	if v := os.Getenv("SB"); v != "" {
		cfg.SourceBalance, _ = strconv.ParseFloat(v, 64)
	}
	if v := os.Getenv("CMIN"); v != "" {
		n, _ := strconv.Atoi(v)
		cfg.CharMin = uint8(n)
	}
	if v := os.Getenv("CMAX"); v != "" {
		n, _ := strconv.Atoi(v)
		cfg.CharMax = uint8(n)
	}
	if v := os.Getenv("BITS"); v != "" {
		n, _ := strconv.Atoi(v)
		cfg.Bits = uint8(n)
	}
	r, err := CrossValidate(ex, cfg, 5)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", cfg)
	t.Logf("AUC %.4f %v", r.AUC, r.SourceAU)
}
