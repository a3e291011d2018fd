package app

import (
	"context"
	"log/slog"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sightline-dev/sightline/internal/config"
	"github.com/sightline-dev/sightline/internal/lifecycle"
)

// startRetention runs the retention task (retention: in the config file)
// in a goroutine until stop is called or ctx ends; stop waits for it. With
// several aggregate instances each runs it: a run that finds another's
// deletion still going leaves that table to the next one, and dropping a
// partition twice is harmless.
func startRetention(ctx context.Context, conn driver.Conn, cfg config.Config, reg prometheus.Registerer, log *slog.Logger) (stop func(), err error) {
	task, err := lifecycle.NewTask(lifecycle.TaskOptions{Conn: conn, Config: cfg.Retention, Registerer: reg, Logger: log})
	if err != nil {
		return nil, err
	}
	rc := cfg.Retention.WithDefaults()
	log.Info("retention task scheduled", "default", rc.Default, "tenants", len(rc.Tenants), "interval", rc.Interval)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = task.Run(ctx) // logs and counts its own failures
	}()
	return func() { cancel(); <-done }, nil
}
