package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sightline-dev/sightline/internal/lifecycle"
)

func newRetention(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "retention",
		Short: "Apply the retention (retention: in the config file) once now and print what it deleted",
		Long: `Apply the retention once, as sightline up and sightline aggregate do every
retention.interval: per table, drop the months whose rows have all expired
and delete the other expired rows (a ClickHouse mutation, waited for).
For a cron job where no stage runs it, or to see what it does.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, conn, err := g.connect(cmd)
			if err != nil {
				return err
			}
			defer conn.Close()
			task, err := lifecycle.NewTask(lifecycle.TaskOptions{Conn: conn, Config: cfg.Retention, Logger: g.logger()})
			if err != nil {
				return err
			}
			res, err := task.RunOnce(cmd.Context(), time.Now())
			tw := tabwriter.NewWriter(g.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "table\tpartitions dropped\trows in them\trows deleted by mutation")
			for _, t := range res.Tables {
				deferred := ""
				if t.Deferred {
					deferred = "\t(a mutation was still running: next time)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d%s\n", t.Table, strings.Join(t.DroppedPartitions, " "), t.DroppedRows, t.MutatedRows, deferred)
			}
			if ferr := tw.Flush(); ferr != nil && err == nil {
				err = ferr
			}
			return err
		},
	}
}
