package cli

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/spf13/cobra"

	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

func newAlerts(g *globals) *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "alerts",
		Short: "Print the alert history: state changes and action outcomes (llm_alerts), job requests (llm_jobs)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, conn, err := g.connect(cmd)
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
	alerts, err := chsink.ReadAlerts(ctx, conn, chsink.AlertFilter{Range: chsink.Range{
		Since: time.Unix(0, 0), Until: time.Now().Add(24 * time.Hour), Limit: limit}})
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "time\trule\tkind\tstate\tapp\tsignal\tvalue\tthreshold\twindow\taction\tattempt\toutcome\tstatus")
	num := func(p *float64) string {
		if p == nil {
			return "NaN"
		}
		return fmt.Sprintf("%.3f", *p)
	}
	for _, a := range alerts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s/%s\t%s\t%s\t%s\t%s\t%d\t%s\t%d\n", a.Time.Format("15:04:05"), a.Rule, a.Kind, a.State, a.App,
			a.Signal, a.Metric, num(a.Value), num(a.Threshold), a.WindowStart.Format("15:04:05"), a.Action, a.Attempt, a.Outcome, a.StatusCode)
	}
	tw.Flush()
	if len(alerts) == 0 {
		fmt.Fprintln(w, "(no alert history)")
	}
	jobs, err := chsink.ReadJobs(ctx, conn, limit)
	if err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "job requests:\trule\taction\tidempotency key\tattempt\toutcome\tstatus")
	for _, j := range jobs {
		fmt.Fprintf(tw, "\t%s\t%s\t%s\t%d\t%s\t%d\n", j.Rule, j.Action, j.IdempotencyKey, j.Attempt, j.Outcome, j.StatusCode)
	}
	return tw.Flush()
}
