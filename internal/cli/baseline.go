package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

func newBaseline(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "baseline", Short: "Manage stored reference distributions (pinned drift baselines)"}
	var name, from, to string
	var window time.Duration
	pin := &cobra.Command{
		Use:   "pin",
		Short: "Store the closed windows of a time range, per key, as a named baseline (aggregate.baseline: pinned:NAME)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.load(cmd)
			if err != nil {
				return err
			}
			if name == "" || from == "" || to == "" {
				return fmt.Errorf("baseline pin needs --name, --from and --to")
			}
			f, err := time.Parse(time.RFC3339, from)
			if err != nil {
				return fmt.Errorf("--from: %w", err)
			}
			t, err := time.Parse(time.RFC3339, to)
			if err != nil {
				return fmt.Errorf("--to: %w", err)
			}
			if !t.After(f) {
				return fmt.Errorf("--to must be after --from")
			}
			if window == 0 {
				window = cfg.Aggregate.Window
			}
			conn, err := openClickHouse(cmd, cfg)
			if err != nil {
				return err
			}
			defer conn.Close()
			n, err := chsink.PinBaseline(cmd.Context(), conn, name, uint32(window/time.Second), f, t)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.out, "pinned baseline %q: %d keys from %s to %s; use it with aggregate.baseline: pinned:%s\n", name, n, from, to, name)
			return nil
		},
	}
	pin.Flags().StringVar(&name, "name", "", "baseline name")
	pin.Flags().StringVar(&from, "from", "", "start of the range (RFC 3339)")
	pin.Flags().StringVar(&to, "to", "", "end of the range (RFC 3339)")
	pin.Flags().DurationVar(&window, "window", 0, "window size of the stored windows (default aggregate.window)")
	cmd.AddCommand(pin)
	return cmd
}
