package cli

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/sightline-dev/sightline/internal/lifecycle"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

func newExport(g *globals) *cobra.Command {
	var tenant, userID, out string
	cmd := &cobra.Command{
		Use:   "export --tenant T --user-id U [--out FILE]",
		Short: "Write every row of one user (calls, feedback, verdicts) as JSON lines, audited",
		Long: `Write every row of one user of one tenant as JSON lines, one per row:
{"table": "llm_events", "row": {...every column...}}, then the feedback on
the user's calls (llm_feedback) and their re-evaluation verdicts
(llm_evaluations). The audit trail records who exported whom (by a hash)
before the first line is written. The counts go to stderr.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, conn, err := g.connect(cmd)
			if err != nil {
				return err
			}
			defer conn.Close()
			var w io.Writer = g.out
			var file *os.File
			if out != "" && out != "-" {
				// The file holds personal data: readable by its owner only.
				f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
				if err != nil {
					return fmt.Errorf("cannot create export file: %w", err)
				}
				defer f.Close()
				w, file = f, f
			}
			rep, err := lifecycle.Export(cmd.Context(), conn, tenant, userID, w, chsink.AuditRow{Actor: chsink.CLIActor()})
			if err != nil {
				if file != nil {
					os.Remove(out) // incomplete, and personal data
				}
				return err
			}
			if file != nil {
				if err := file.Close(); err != nil {
					return fmt.Errorf("cannot write export file: %w", err)
				}
			}
			return printReport(cmd.ErrOrStderr(), rep, false, "exported")
		},
	}
	f := cmd.Flags()
	f.StringVar(&tenant, "tenant", "", "tenant of the user (required)")
	f.StringVar(&userID, "user-id", "", "the user's id, as the application sent it in user_id (required)")
	f.StringVar(&out, "out", "", "file to write (created, must not exist; default stdout)")
	_ = cmd.MarkFlagRequired("tenant")
	_ = cmd.MarkFlagRequired("user-id")
	return cmd
}
