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
)

func newSummary(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "summary",
		Short: "Print what is stored: events per app/model, latency quantiles, DLQ count",
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.load(cmd)
			if err != nil {
				return err
			}
			conn, err := openClickHouse(cmd, cfg)
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
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "== events per app and model (deduplicated)")
	fmt.Fprintln(tw, "app\tmodel\tevents\terrors\tp50 ms\tp90 ms\tp99 ms\ttokens\tcost USD")
	rows, err := conn.Query(ctx, `
		SELECT app, model, count() AS n, sum(is_error),
		       quantiles(0.5, 0.9, 0.99)(duration_ms), sum(total_tokens), sum(cost_usd)
		FROM llm_events FINAL
		GROUP BY app, model
		ORDER BY app, model`)
	if err != nil {
		return fmt.Errorf("cannot query llm_events: %w", err)
	}
	var total uint64
	for rows.Next() {
		var app, model string
		var n uint64
		var errs uint64
		var q []float64
		var tokens int64
		var cost float64
		if err := rows.Scan(&app, &model, &n, &errs, &q, &tokens, &cost); err != nil {
			rows.Close()
			return fmt.Errorf("cannot read llm_events summary: %w", err)
		}
		total += n
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.0f\t%.0f\t%.0f\t%d\t%.4f\n", app, model, n, errs, q[0], q[1], q[2], tokens, cost)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("cannot read llm_events summary: %w", err)
	}
	tw.Flush()
	var all, truncated uint64
	var q []float64
	if err := conn.QueryRow(ctx, `SELECT count(), sum(truncated), quantiles(0.5, 0.9, 0.99)(duration_ms) FROM llm_events FINAL`).Scan(&all, &truncated, &q); err != nil {
		return fmt.Errorf("cannot query llm_events: %w", err)
	}
	fmt.Fprintf(w, "\n== all events: %d stored (deduplicated), %d truncated; latency p50 %.0f ms, p90 %.0f ms, p99 %.0f ms\n", all, truncated, q[0], q[1], q[2])
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
	var windows, rows uint64
	if err := conn.QueryRow(ctx, `SELECT uniqExact(tenant, app, model, variant, window_start, window_seconds), count()
		FROM llm_signals FINAL WHERE signal = 'events' AND grp = ''`).Scan(&windows, &rows); err != nil {
		return err
	}
	fmt.Fprintf(w, "\n== signals: %d key-windows closed\n", windows)
	if windows == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "app\twindows\ttoxicity\thallucination\trefusal\tpii\tinjection\terrors\tmax toxicity (window)")
	q, err := conn.Query(ctx, `SELECT app, uniqExact(window_start),
		sumIf(value * n, signal = 'toxicity') / greatest(sumIf(n, signal = 'toxicity'), 1),
		sumIf(value * n, signal = 'hallucination') / greatest(sumIf(n, signal = 'hallucination'), 1),
		sumIf(value * n, signal = 'refusal') / greatest(sumIf(n, signal = 'refusal'), 1),
		sumIf(value * n, signal = 'pii') / greatest(sumIf(n, signal = 'pii'), 1),
		sumIf(value * n, signal = 'prompt_injection') / greatest(sumIf(n, signal = 'prompt_injection'), 1),
		sumIf(value * n, signal = 'error') / greatest(sumIf(n, signal = 'error'), 1),
		maxIf(value, signal = 'toxicity' AND n >= 20)
		FROM llm_signals FINAL
		WHERE metric = 'rate' AND grp = '' AND window_seconds = (SELECT min(window_seconds) FROM llm_signals)
		GROUP BY app ORDER BY app`)
	if err != nil {
		return err
	}
	for q.Next() {
		var app string
		var n uint64
		var tox, hal, ref, pii, inj, errs, maxTox float64
		if err := q.Scan(&app, &n, &tox, &hal, &ref, &pii, &inj, &errs, &maxTox); err != nil {
			q.Close()
			return err
		}
		fmt.Fprintf(tw, "%s\t%d\t%.1f%%\t%.1f%%\t%.1f%%\t%.1f%%\t%.1f%%\t%.1f%%\t%.1f%%\n", app, n, 100*tox, 100*hal, 100*ref, 100*pii, 100*inj, 100*errs, 100*maxTox)
	}
	q.Close()
	tw.Flush()
	var drift, driftAll, bias, biasAll, ab, abAll uint64
	if err := conn.QueryRow(ctx, `SELECT
		countIf(metric = 'drift' AND decision = 1), countIf(metric = 'drift'),
		countIf(metric = 'bias' AND decision = 1), countIf(metric = 'bias'),
		countIf(metric = 'ab_msprt' AND decision = 1), countIf(metric = 'ab_msprt')
		FROM llm_signals FINAL`).Scan(&drift, &driftAll, &bias, &biasAll, &ab, &abAll); err != nil {
		return err
	}
	fmt.Fprintf(w, "findings: drift %d of %d feature-windows, bias %d of %d attribute-windows, A/B (mSPRT) %d of %d comparisons\n",
		drift, driftAll, bias, biasAll, ab, abAll)
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
