package clickhouse

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Options say how to reach ClickHouse.
type Options struct {
	// Addrs are native-protocol addresses (host:9000). Required.
	Addrs    []string
	Database string // default "default"
	Username string // default "default"
	Password string
	// DialTimeout bounds each connection attempt (default 5s).
	DialTimeout time.Duration
	// MaxOpenConns bounds the pool (default 8).
	MaxOpenConns int
}

// Open connects and pings the server.
func Open(ctx context.Context, o Options) (driver.Conn, error) {
	if len(o.Addrs) == 0 {
		return nil, fmt.Errorf("cannot connect to clickhouse: no address configured (clickhouse.addr)")
	}
	if o.Database == "" {
		o.Database = "default"
	}
	if o.Username == "" {
		o.Username = "default"
	}
	if o.DialTimeout == 0 {
		o.DialTimeout = 5 * time.Second
	}
	if o.MaxOpenConns == 0 {
		o.MaxOpenConns = 8
	}
	conn, err := ch.Open(&ch.Options{
		Addr:         o.Addrs,
		Auth:         ch.Auth{Database: o.Database, Username: o.Username, Password: o.Password},
		DialTimeout:  o.DialTimeout,
		MaxOpenConns: o.MaxOpenConns,
		MaxIdleConns: o.MaxOpenConns,
		Compression:  &ch.Compression{Method: ch.CompressionLZ4},
	})
	if err != nil {
		return nil, fmt.Errorf("cannot connect to clickhouse at %s: %w", strings.Join(o.Addrs, ","), err)
	}
	pctx, cancel := context.WithTimeout(ctx, o.DialTimeout)
	defer cancel()
	if err := conn.Ping(pctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("cannot reach clickhouse at %s: %w", strings.Join(o.Addrs, ","), err)
	}
	return conn, nil
}

// ServerVersion returns the server's major and minor release.
func ServerVersion(ctx context.Context, conn driver.Conn) (major, minor int, err error) {
	var v string
	if err := conn.QueryRow(ctx, serverVersionQuery).Scan(&v); err != nil {
		return 0, 0, fmt.Errorf("cannot read clickhouse version: %w", err)
	}
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return 0, 0, fmt.Errorf("cannot parse clickhouse version %q", v)
	}
	if major, err = strconv.Atoi(parts[0]); err != nil {
		return 0, 0, fmt.Errorf("cannot parse clickhouse version %q", v)
	}
	if minor, err = strconv.Atoi(parts[1]); err != nil {
		return 0, 0, fmt.Errorf("cannot parse clickhouse version %q", v)
	}
	return major, minor, nil
}

const serverVersionQuery = "SELECT version()"
