package cli

import (
	"context"
	"fmt"
	"io"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sightline-dev/sightline/internal/broker"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

func newSummary(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "summary",
		Short: "Print what is stored: events per app/model, latency quantiles, DLQ count",
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, conn, err := g.connect(cmd)
			if err != nil {
				return err
			}
			defer conn.Close()
			brokers := cfg.Kafka.Brokers
			if len(brokers) == 0 {
				brokers = []string{cfg.Kafka.EmbeddedAddr}
			}
			return Summary(cmd.Context(), g.out, conn, brokers)
		},
	}
}

// Summary prints the demo's read-back from ClickHouse and the DLQ.
func Summary(ctx context.Context, w io.Writer, conn driver.Conn, brokers []string) error {
	ev, err := chsink.StoredEvents(ctx, conn)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "== events per app and model (deduplicated)")
	fmt.Fprintln(tw, "app\tmodel\tevents\terrors\tp50 ms\tp90 ms\tp99 ms\ttokens\tcost USD")
	for _, a := range ev.PerApp {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.0f\t%.0f\t%.0f\t%d\t%.4f\n", a.App, a.Model, a.Events, a.Errors, a.P50, a.P90, a.P99, a.Tokens, a.CostUSD)
	}
	tw.Flush()
	fmt.Fprintf(w, "\n== all events: %d stored (deduplicated), %d truncated; latency p50 %.0f ms, p90 %.0f ms, p99 %.0f ms\n", ev.Events, ev.Truncated, ev.P50, ev.P90, ev.P99)
	if err := signalSummary(ctx, w, conn); err != nil {
		fmt.Fprintf(w, "== signals: unavailable (%v)\n", err)
	}
	dlq, reasons, err := dlqCount(ctx, brokers)
	if err != nil {
		fmt.Fprintf(w, "== dead-letter topic: unavailable (%v)\n", err)
		return nil
	}
	fmt.Fprintf(w, "== dead-letter topic %s: %d records", broker.TopicDLQ, dlq)
	if len(reasons) > 0 {
		keys := make([]string, 0, len(reasons))
		for k := range reasons {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprint(w, " (")
		for i, k := range keys {
			if i > 0 {
				fmt.Fprint(w, ", ")
			}
			fmt.Fprintf(w, "%s: %d", k, reasons[k])
		}
		fmt.Fprint(w, ")")
	}
	fmt.Fprintln(w)
	return nil
}

// signalSummary prints what the aggregate stage found: windows written,
// rates per app, and the drift, bias and A/B findings.
func signalSummary(ctx context.Context, w io.Writer, conn driver.Conn) error {
	sg, err := chsink.StoredSignals(ctx, conn)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\n== signals: %d key-windows closed\n", sg.KeyWindows)
	if sg.KeyWindows == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "app\twindows\ttoxicity\thallucination\trefusal\tpii\tinjection\terrors\tmax toxicity (window)")
	for _, a := range sg.PerApp {
		fmt.Fprintf(tw, "%s\t%d\t%.1f%%\t%.1f%%\t%.1f%%\t%.1f%%\t%.1f%%\t%.1f%%\t%.1f%%\n", a.App, a.Windows, 100*a.Toxicity,
			100*a.Hallucination, 100*a.Refusal, 100*a.PII, 100*a.Injection, 100*a.Errors, 100*a.MaxToxicity)
	}
	tw.Flush()
	fmt.Fprintf(w, "findings: drift %d of %d feature-windows, bias %d of %d attribute-windows, A/B (mSPRT) %d of %d comparisons\n",
		sg.Drift, sg.DriftAll, sg.Bias, sg.BiasAll, sg.AB, sg.ABAll)
	return nil
}

// dlqCount reads the committed records of the dead-letter topic and counts
// them by reason. (Offsets alone over-count: transaction markers take
// offsets too.)
func dlqCount(ctx context.Context, brokers []string) (int, map[string]int, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(broker.TopicDLQ),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		return 0, nil, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ends, err := adm.ListEndOffsets(ctx, broker.TopicDLQ)
	if err != nil {
		return 0, nil, err
	}
	var total int64
	ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
	n, reasons := 0, map[string]int{}
	if total == 0 {
		return 0, reasons, nil
	}
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fs := cl.PollFetches(pctx)
		cancel()
		got := 0
		fs.EachRecord(func(r *kgo.Record) {
			got++
			n++
			for _, h := range r.Headers {
				if h.Key == "sightline.dlq.reason" {
					reasons[string(h.Value)]++
				}
			}
		})
		if got == 0 {
			break
		}
	}
	return n, reasons, nil
}
