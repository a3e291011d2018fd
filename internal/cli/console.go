package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/sightline-dev/sightline/internal/app"
	"github.com/sightline-dev/sightline/internal/console"
	"github.com/sightline-dev/sightline/internal/server"
)

func newConsole(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "console",
		Short: "Serve the Console (web UI) and the read API alone, against --clickhouse-addr",
		Long: `Serve the Sightline Console and the read API from a ClickHouse, for deployments
where the stages run elsewhere (without --clickhouse-addr: the local server that
` + "`sightline up`" + ` manages). It listens on --http-addr (default 127.0.0.1:8088) and
shows call content only on a loopback address or, with auth.enabled, to read
and admin keys (each read of a call's content is audited).`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, conn, err := g.connect(cmd)
			if err != nil {
				return err
			}
			defer conn.Close()
			reg := app.NewRegistry()
			log := g.logger()
			sec, err := app.NewSecurity(cmd.Context(), cfg, conn, reg, log, app.Listeners(cfg, false)...)
			if err != nil {
				return err
			}
			defer sec.Close()
			ui, err := console.New(console.Options{Conn: conn, Config: cfg.Console, ListenAddr: cfg.HTTPAddr, Rules: cfg.Alerts.Rules,
				Window: &cfg.Window, Registerer: reg, Logger: log, Guard: sec.Guard, Limit: sec.Reads.Console})
			if err != nil {
				return err
			}
			ready := func() bool {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				return conn.Ping(ctx) == nil
			}
			srv, err := server.Start(server.Config{Addr: cfg.HTTPAddr, Gatherer: reg, Query: conn, Console: ui,
				Checks: []server.Check{{Name: "clickhouse", Ready: ready}}, Guard: sec.Guard, Reads: sec.Reads, TLS: sec.TLS})
			if err != nil {
				return err
			}
			scheme := "http"
			if sec.TLS != nil {
				scheme = "https"
			}
			fmt.Fprintf(g.out, "Sightline Console: %s://%s/\n", scheme, srv.Addr())
			<-cmd.Context().Done()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return srv.Close(ctx)
		},
	}
}
