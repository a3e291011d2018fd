package cli

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/spf13/cobra"
)

func newAlerts(g *globals) *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "alerts",
		Short: "Print the alert history: state changes and action outcomes (llm_alerts), job requests (llm_jobs)",
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
			return AlertHistory(cmd.Context(), g.out, conn, limit)
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 50, "most rows to print per table")
	return cmd
}

// AlertHistory prints llm_alerts and llm_jobs, oldest first.
func AlertHistory(ctx context.Context, w io.Writer, conn driver.Conn, limit int) error {
	rows, err := conn.Query(ctx, `SELECT ts, rule, kind, state, app, signal, metric, value, threshold, window_start, action, attempt, outcome, status_code
		FROM llm_alerts ORDER BY seq LIMIT ?`, uint64(limit))
	if err != nil {
		return fmt.Errorf("cannot read llm_alerts: %w", err)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "time\trule\tkind\tstate\tapp\tsignal\tvalue\tthreshold\twindow\taction\tattempt\toutcome\tstatus")
	n := 0
	for rows.Next() {
		var ts, ws time.Time
		var rule, kind, state, appName, signal, metric, action, outcome string
		var value, threshold float64
		var attempt uint32
		var status int32
		if err := rows.Scan(&ts, &rule, &kind, &state, &appName, &signal, &metric, &value, &threshold, &ws, &action, &attempt, &outcome, &status); err != nil {
			rows.Close()
			return fmt.Errorf("cannot read llm_alerts: %w", err)
		}
		n++
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s/%s\t%.3f\t%.3f\t%s\t%s\t%d\t%s\t%d\n", ts.Format("15:04:05"), rule, kind, state, appName,
			signal, metric, value, threshold, ws.Format("15:04:05"), action, attempt, outcome, status)
	}
	rows.Close()
	tw.Flush()
	if n == 0 {
		fmt.Fprintln(w, "(no alert history)")
	}
	jobs, err := conn.Query(ctx, `SELECT rule, action, idempotency_key, attempt, outcome, status_code FROM llm_jobs ORDER BY rule, idempotency_key, attempt LIMIT ?`, uint64(limit))
	if err != nil {
		return fmt.Errorf("cannot read llm_jobs: %w", err)
	}
	defer jobs.Close()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "job requests:\trule\taction\tidempotency key\tattempt\toutcome\tstatus")
	for jobs.Next() {
		var rule, action, key, outcome string
		var attempt uint32
		var status int32
		if err := jobs.Scan(&rule, &action, &key, &attempt, &outcome, &status); err != nil {
			return fmt.Errorf("cannot read llm_jobs: %w", err)
		}
		fmt.Fprintf(tw, "\t%s\t%s\t%s\t%d\t%s\t%d\n", rule, action, key, attempt, outcome, status)
	}
	return tw.Flush()
}
