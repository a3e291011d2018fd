package alert

import (
	"context"
	"fmt"
	"testing"

	"github.com/sightline-dev/sightline/internal/testenv"
	"github.com/sightline-dev/sightline/processors/window"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

// BenchmarkEvaluate: one batch of 1,000 keys × 20 signal rows against 5
// rules (literal and wildcard), with no state change (the steady state).
func BenchmarkEvaluate(b *testing.B) {
	conn, _ := testenv.Database(b)
	cfg := Config{Rules: []Rule{
		{Name: "tox", Signal: "toxicity/rate", Operator: ">", Threshold: f(0.9)},
		{Name: "tox-acme", Signal: "toxicity/rate", Match: Match{Tenant: "acme-*"}, Operator: ">", Threshold: f(0.9), For: i(3)},
		{Name: "drift", Signal: "*/drift", Condition: CondDrifted},
		{Name: "lat", Signal: "latency_ms/p99", Operator: ">", Threshold: f(1e9), MinSamples: 10},
		{Name: "bias", Signal: "*/bias", Condition: CondSignificant},
	}}
	e, err := New(cfg, conn, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close(context.Background())
	metrics := []string{"toxicity/rate", "refusal/rate", "latency_ms/p99", "latency_ms/p50", "latency_ms/drift", "prompt_text/drift",
		"toxicity/bias", "events/count", "cost_usd/total", "output_tokens/mean"}
	batch := func(w int64) []chsink.SignalRow {
		var rows []chsink.SignalRow
		for k := range 1000 {
			key := window.Key{Tenant: fmt.Sprintf("acme-%d", k%10), App: "app", Model: fmt.Sprintf("m%d", k), Variant: "v"}
			for j := range 20 {
				m := metrics[j%len(metrics)]
				name, metric, _ := cut(m)
				rows = append(rows, sig(key, t0+60*w, name, metric, 0.1, 100))
			}
		}
		return rows
	}
	b.ReportAllocs()
	b.ResetTimer()
	var rows int
	for n := 0; n < b.N; n++ {
		b.StopTimer()
		r := batch(int64(n))
		rows = len(r)
		b.StartTimer()
		e.Evaluate(context.Background(), r)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/row")
}

func cut(s string) (string, string, bool) {
	for i := range s {
		if s[i] == '/' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}
