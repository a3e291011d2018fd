package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sightline-dev/sightline/internal/app"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

func newMigrate(g *globals) *cobra.Command {
	var cluster string
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply the ClickHouse migrations to --clickhouse-addr (ON CLUSTER with --cluster)",
		Long: `Create the database (clickhouse.database) when it does not exist and apply
the embedded migrations that schema_migrations does not list.

With --cluster NAME (or clickhouse.cluster in the config file) every table is
created ON CLUSTER NAME as a replicated local table <table>_local on every
host plus a Distributed table <table> that Sightline reads and writes. Every
host of the cluster must be up; the command may be re-run from any of them.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.load(cmd)
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("cluster") {
				cfg.ClickHouse.Cluster = cluster
				if err := cfg.Validate(); err != nil {
					return err
				}
			}
			addr := cfg.ClickHouse.Addrs.String()
			if addr == "" {
				addr = fmt.Sprintf("127.0.0.1:%d", cfg.ClickHouse.LocalPort)
			}
			o := app.ClickHouseOptions(cfg.ClickHouse, addr)
			if err := chsink.CreateDatabase(cmd.Context(), o); err != nil {
				return err
			}
			conn, err := chsink.Open(cmd.Context(), o)
			if err != nil {
				return err
			}
			defer conn.Close()
			res, err := chsink.MigrateOn(cmd.Context(), conn, o)
			if err != nil {
				return err
			}
			where := "one server"
			if o.Cluster != "" {
				where = "cluster " + o.Cluster
			}
			fmt.Fprintf(g.out, "applied %v, skipped (server too old) %v, schema version %d (%s, database %s)\n",
				res.Applied, res.Skipped, res.Current, where, o.Database)
			return nil
		},
	}
	cmd.Flags().StringVar(&cluster, "cluster", "", "ClickHouse cluster (remote_servers) to migrate ON CLUSTER; overrides clickhouse.cluster")
	return cmd
}
