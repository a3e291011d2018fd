package console

import "testing"

func TestTrimNum(t *testing.T) {
	for in, want := range map[float64]string{0.00006: "0.00006", 0.000061: "0.000061", 0.0005: "0.0005", 12345: "12.3k", 0: "0",
		1.5: "1.5", 2.5e6: "2.50M", 250: "250"} {
		if got := trimNum(in); got != want {
			t.Errorf("trimNum(%v) = %q, want %q", in, got, want)
		}
	}
}
