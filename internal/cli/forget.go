package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sightline-dev/sightline/internal/lifecycle"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

func newForget(g *globals) *cobra.Command {
	var tenant, userID string
	var timeout time.Duration
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "forget --tenant T --user-id U",
		Short: "Delete every row of one user (calls, their feedback and verdicts), verify, and audit it",
		Long: `Delete every row of one user of one tenant: the user's calls in llm_events
(every stored copy), the feedback on them and their re-evaluation verdicts.
ClickHouse deletes in the background: forget waits until it is done, counts
again and fails unless nothing of the user is left. The audit trail records
who ran it and the counts, naming the user by a hash.

The embedded broker's log still holds calls of the last kafka.retention
(default 24h) until it expires; a call of the user produced while forget
runs is deleted in a further round, one produced afterwards is stored.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, conn, err := g.connect(cmd)
			if err != nil {
				return err
			}
			defer conn.Close()
			rep, err := lifecycle.Forget(cmd.Context(), conn, tenant, userID, lifecycle.ForgetOptions{
				Audit: chsink.AuditRow{Actor: chsink.CLIActor()}, Timeout: timeout})
			if rep.RequestID != "" {
				if perr := printReport(g.out, rep, asJSON, "deleted"); perr != nil && err == nil {
					err = perr
				}
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&tenant, "tenant", "", "tenant of the user (required)")
	f.StringVar(&userID, "user-id", "", "the user's id, as the application sent it in user_id (required)")
	f.DurationVar(&timeout, "timeout", 10*time.Minute, "longest wait for ClickHouse to finish the deletions")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	_ = cmd.MarkFlagRequired("tenant")
	_ = cmd.MarkFlagRequired("user-id")
	return cmd
}

// printReport prints a forget or export report: rows per table, and for
// forget what remains.
func printReport(w io.Writer, rep lifecycle.Report, asJSON bool, verb string) error {
	if asJSON {
		return json.NewEncoder(w).Encode(rep)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "tenant %s, %s\n", rep.Tenant, rep.User)
	if rep.RequestID != "" {
		fmt.Fprintf(tw, "table\t%s\tremaining\n", verb)
		for _, t := range rep.Tables {
			fmt.Fprintf(tw, "%s\t%d\t%d\n", t.Table, t.Rows, t.Remaining)
		}
	} else {
		fmt.Fprintf(tw, "table\t%s\n", verb)
		for _, t := range rep.Tables {
			fmt.Fprintf(tw, "%s\t%d\n", t.Table, t.Rows)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if rep.RequestID != "" && rep.Verified {
		_, err := fmt.Fprintln(w, "verified: no row of this user is left")
		return err
	}
	return nil
}
