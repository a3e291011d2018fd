package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func run(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := Execute(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), err
}

func TestEvalCommand(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.jsonl")
	os.WriteFile(in, []byte(`{"completion":[{"role":"assistant","content":"I'm sorry, but I can't help with that."}]}
garbage
`), 0o644)
	outPath := filepath.Join(dir, "out.jsonl")
	_, stderr, err := run(t, "eval", "--in", in, "--out", outPath)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(outPath)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"refusal":true`) || !strings.Contains(lines[1], `"line":2`) {
		t.Fatalf("output:\n%s", b)
	}
	if !strings.Contains(stderr, "2 lines, 1 events scored, 1 malformed") {
		t.Fatalf("summary: %s", stderr)
	}
}

func TestReportQualityCommand(t *testing.T) {
	out, _, err := run(t, "report", "quality", "--windows", "200")
	if err != nil {
		t.Fatal(err)
	}
	// The report must carry measured rates, not only its labels: a 0.2-SD
	// shift over 2,000 events per side is found in most windows even at
	// 200 windows, and stationary windows are rarely flagged.
	rate := func(label string) float64 {
		for _, line := range strings.Split(out, "\n") {
			if f := strings.Fields(line); strings.Contains(line, label) && len(f) >= 3 {
				v, err := strconv.ParseFloat(strings.TrimSuffix(f[len(f)-4], "%"), 64)
				if err == nil {
					return v
				}
			}
		}
		t.Fatalf("no rate for %q in:\n%s", label, out)
		return 0
	}
	if shift, still := rate("drift: 0.2-SD mean shift"), rate("drift: stationary"); shift < 90 || still > 5 {
		t.Fatalf("shift flagged %.1f%%, stationary %.1f%%:\n%s", shift, still, out)
	}
}

func TestBadInvocationsAreClearErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"loadgen", "--count", "1", "--scenario", "nope", "--kafka-brokers", "127.0.0.1:1"}, "unknown scenario"},
		{[]string{"score"}, "--kafka-brokers"},
		{[]string{"train", "toxicity"}, "--data"},
		{[]string{"baseline", "pin"}, "--name"},
	} {
		_, _, err := run(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want an error mentioning %q", tc.args, err, tc.want)
		}
	}
}
