package clickhouse

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"go.yaml.in/yaml/v3"
)

// Options say how to reach ClickHouse: the config file's clickhouse:
// section (internal/config embeds it and adds what only `sightline up`
// uses). Zero values take the defaults of DefaultOptions.
//
//	clickhouse:
//	  addr: ch-0:9440,ch-1:9440        # or a list
//	  database: sightline
//	  username: sightline
//	  password_env: CLICKHOUSE_PASSWORD
//	  tls: {enabled: true, ca_file: /etc/clickhouse/ca.pem}
//	  cluster: sightline               # Replicated + Distributed tables ON CLUSTER
type Options struct {
	// Addrs are native-protocol addresses (host:9000, or the TLS port,
	// host:9440); the file takes a list or one comma-separated string.
	// Required to connect; the driver fails over to the next on a dial
	// error.
	Addrs AddrList `yaml:"addr"`
	// Database must exist (`sightline migrate` creates it). Default
	// "default".
	Database string `yaml:"database"`
	// Username, default "default".
	Username string `yaml:"username"`
	// Password, or PasswordEnv naming the environment variable that holds
	// it (one of the two): PasswordEnv keeps the secret out of the file
	// (a Kubernetes Secret as an environment variable).
	Password    string `yaml:"password"`
	PasswordEnv string `yaml:"password_env"`
	// TLS to the server's secure native port.
	TLS TLS `yaml:"tls"`
	// DialTimeout bounds each connection attempt and the first ping
	// (default 5s).
	DialTimeout time.Duration `yaml:"dial_timeout"`
	// MaxOpenConns bounds the pool (default 8).
	MaxOpenConns int `yaml:"max_open_conns"`
	// Cluster names the ClickHouse cluster (remote_servers) the schema
	// lives on; empty is one server. Set, migrations create every table as
	// a Replicated*MergeTree <name>_local ON CLUSTER plus a Distributed
	// table <name> that the code reads and writes, and connections insert
	// synchronously into the shards (see Open).
	Cluster string `yaml:"cluster"`
	// DDLTimeout is how long a migration statement ON CLUSTER waits for
	// every host (distributed_ddl_task_timeout; default 60s).
	DDLTimeout time.Duration `yaml:"ddl_timeout"`
	// ReplicationPath is the ZooKeeper path of each replicated table:
	// {database} and {table} are filled in by the migrations, {shard}
	// (and any other macro) by each server (default
	// /clickhouse/tables/{shard}/{database}/{table}).
	ReplicationPath string `yaml:"replication_path"`
}

// TLS to ClickHouse's secure native port (tcp_port_secure, usually 9440):
// the same keys as the kafka: section's.
type TLS struct {
	// Enabled turns TLS on; the other keys need it.
	Enabled bool `yaml:"enabled"`
	// CAFile is a PEM bundle of the CAs that sign the server's
	// certificate (default: the system's roots).
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are a PEM client certificate and key, for a
	// server that requires one (both or neither).
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName is the name the server's certificate must carry
	// (default: the host dialled).
	ServerName string `yaml:"server_name"`
	// InsecureSkipVerify accepts any certificate: for tests only.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// AddrList is a list of host:port; in YAML a sequence or one
// comma-separated string (what clickhouse.addr always took).
type AddrList []string

// UnmarshalYAML implements yaml.Unmarshaler.
func (a *AddrList) UnmarshalYAML(n *yaml.Node) error {
	var list []string
	switch n.Kind {
	case yaml.ScalarNode:
		list = strings.Split(n.Value, ",")
	case yaml.SequenceNode:
		if err := n.Decode(&list); err != nil {
			return err
		}
	default:
		return fmt.Errorf("line %d: clickhouse.addr must be host:port, a comma-separated list or a sequence", n.Line)
	}
	*a = (*a)[:0]
	for _, s := range list {
		if s = strings.TrimSpace(s); s != "" {
			*a = append(*a, s)
		}
	}
	return nil
}

// String is the comma-separated form.
func (a AddrList) String() string { return strings.Join(a, ",") }

// DefaultReplicationPath is Options.ReplicationPath's default.
const DefaultReplicationPath = "/clickhouse/tables/{shard}/{database}/{table}"

// DefaultOptions are the connection defaults (no address: `sightline up`
// then runs its own server).
func DefaultOptions() Options {
	var o Options
	o.setDefaults()
	return o
}

func (o *Options) setDefaults() {
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
	if o.DDLTimeout == 0 {
		o.DDLTimeout = 60 * time.Second
	}
	if o.ReplicationPath == "" {
		o.ReplicationPath = DefaultReplicationPath
	}
}

// identifier is what a cluster or database name may be: it is written
// into DDL unquoted.
var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Validate checks the settings (defaults filled in) without touching
// files, the environment or the network (Open does those); every error
// names its key.
func (o *Options) Validate() error {
	var errs []error
	bad := func(key, format string, a ...any) {
		errs = append(errs, fmt.Errorf("clickhouse.%s: %s", key, fmt.Sprintf(format, a...)))
	}
	for i, a := range o.Addrs {
		host, port, err := net.SplitHostPort(a)
		if p, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || p <= 0 || p > 65535 {
			bad(fmt.Sprintf("addr[%d]", i), "%q is not host:port", a)
		}
	}
	switch {
	case o.DialTimeout < 0:
		bad("dial_timeout", "must not be negative")
	case o.MaxOpenConns < 0:
		bad("max_open_conns", "must not be negative")
	}
	if o.Password != "" && o.PasswordEnv != "" {
		bad("password", "and clickhouse.password_env are both set: keep one")
	}
	t := o.TLS
	if !t.Enabled {
		for _, f := range []struct {
			key string
			set bool
		}{{"tls.ca_file", t.CAFile != ""}, {"tls.cert_file", t.CertFile != ""}, {"tls.key_file", t.KeyFile != ""},
			{"tls.server_name", t.ServerName != ""}, {"tls.insecure_skip_verify", t.InsecureSkipVerify}} {
			if f.set {
				bad(f.key, "is set but clickhouse.tls.enabled is false (set it to true to use TLS)")
			}
		}
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		bad("tls.cert_file", "and clickhouse.tls.key_file go together (a client certificate needs its key)")
	}
	if t.InsecureSkipVerify && t.CAFile != "" {
		bad("tls.insecure_skip_verify", "makes clickhouse.tls.ca_file pointless: the certificate is not checked at all")
	}
	if o.Cluster != "" {
		if !identifier.MatchString(o.Cluster) {
			bad("cluster", "%q must be a plain identifier (letters, digits, _)", o.Cluster)
		}
		if !identifier.MatchString(o.Database) {
			bad("database", "%q must be a plain identifier (letters, digits, _) in cluster mode", o.Database)
		}
		if o.DDLTimeout < time.Second {
			bad("ddl_timeout", "must be at least 1s")
		}
		if !strings.Contains(o.ReplicationPath, "{shard}") || !strings.Contains(o.ReplicationPath, "{table}") {
			bad("replication_path", "%q must hold {shard} and {table}: the replicas of one shard's table share a path, other shards and tables may not",
				o.ReplicationPath)
		}
	}
	return errors.Join(errs...)
}

// password returns the password, read from PasswordEnv when that is set.
func (o *Options) password() (string, error) {
	if o.PasswordEnv == "" {
		return o.Password, nil
	}
	p := os.Getenv(o.PasswordEnv)
	if p == "" {
		return "", fmt.Errorf("cannot read the clickhouse password: clickhouse.password_env names the environment variable %s, which is not set or empty", o.PasswordEnv)
	}
	return p, nil
}

// tlsConfig reads the certificate files.
func (t TLS) tlsConfig() (*tls.Config, error) {
	if !t.Enabled {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify} //nolint:gosec // documented as tests only
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("cannot read clickhouse.tls.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("cannot use clickhouse.tls.ca_file %s: it holds no PEM certificate", t.CAFile)
		}
		c.RootCAs = pool
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("cannot load clickhouse.tls.cert_file and clickhouse.tls.key_file: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// clusterSettings are what every connection of cluster mode sets, and why:
//   - insert_distributed_sync: an insert into a Distributed table returns
//     once each shard holds its rows (on one replica; the shard's replicas
//     copy them), not when they are queued on the node that took the
//     insert, so the stages commit their Kafka offsets after the data is
//     where queries read it (at-least-once, as on one server);
//   - prefer_localhost_replica 0, with the profile's load_balancing
//     in_order (see checkProfile): every process reads and writes a shard
//     through the same replica, the first in remote_servers that is up,
//     whichever host it is connected to, so a stage reads back what it (or
//     the member before it) wrote: stored windows a correction merges into,
//     baselines, experiment and alert state after a rebalance;
//   - max_replica_delay_for_distributed_queries: a replica that fell
//     behind (back from a restart) is skipped for reads until it caught up.
//
// Only integer settings: the driver cannot send a string setting to a
// server as old as 18.16 (load_balancing is one), so that one must come
// from the user's profile.
func clusterSettings() ch.Settings {
	return ch.Settings{
		"insert_distributed_sync":                   1,
		"prefer_localhost_replica":                  0,
		"max_replica_delay_for_distributed_queries": 5,
	}
}

const loadBalancingQuery = "SELECT value FROM system.settings WHERE name = 'load_balancing'"

// checkProfile refuses a cluster-mode connection whose profile reads a
// shard from any replica: a process could miss rows it just wrote.
func (o *Options) checkProfile(ctx context.Context, conn driver.Conn) error {
	var lb string
	if err := conn.QueryRow(ctx, loadBalancingQuery).Scan(&lb); err != nil {
		return fmt.Errorf("cannot read the load_balancing setting of clickhouse.username %q: %w", o.Username, err)
	}
	if lb != "in_order" {
		return fmt.Errorf("cannot use clickhouse.cluster %s: the profile of clickhouse.username %q has load_balancing = %s; set "+
			"<load_balancing>in_order</load_balancing> in that profile (users.xml) so that every Sightline process reads a shard "+
			"from the replica that took its writes (README: ClickHouse cluster)", o.Cluster, o.Username, lb)
	}
	return nil
}

// Open connects and pings the server. Errors name the setting to fix: a
// CA that does not sign the server's certificate, a plaintext port with
// TLS (or the reverse), wrong credentials, a missing database.
func Open(ctx context.Context, o Options) (driver.Conn, error) {
	o.setDefaults()
	if len(o.Addrs) == 0 {
		return nil, fmt.Errorf("cannot connect to clickhouse: no address configured (clickhouse.addr)")
	}
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("cannot connect to clickhouse: %w", err)
	}
	pass, err := o.password()
	if err != nil {
		return nil, err
	}
	tc, err := o.TLS.tlsConfig()
	if err != nil {
		return nil, err
	}
	var settings ch.Settings
	if o.Cluster != "" {
		settings = clusterSettings()
	}
	conn, err := ch.Open(&ch.Options{
		Addr:         o.Addrs,
		Auth:         ch.Auth{Database: o.Database, Username: o.Username, Password: pass},
		TLS:          tc,
		Settings:     settings,
		DialTimeout:  o.DialTimeout,
		MaxOpenConns: o.MaxOpenConns,
		MaxIdleConns: o.MaxOpenConns,
		Compression:  &ch.Compression{Method: ch.CompressionLZ4},
	})
	if err != nil {
		return nil, fmt.Errorf("cannot connect to clickhouse at %s: %w", o.Addrs, err)
	}
	pctx, cancel := context.WithTimeout(ctx, o.DialTimeout)
	defer cancel()
	if err := conn.Ping(pctx); err != nil {
		conn.Close()
		return nil, o.explain(err)
	}
	if o.Cluster != "" {
		if err := o.checkProfile(pctx, conn); err != nil {
			conn.Close()
			return nil, err
		}
	}
	return conn, nil
}

// Server error codes Open explains.
const (
	codeUnknownDatabase      = 81
	codeUnknownUser          = 192
	codeWrongPassword        = 193
	codeRequiredPassword     = 194
	codeAuthenticationFailed = 516 // newer servers say this for all three
)

// explain turns a failed first ping into an error naming the setting.
func (o *Options) explain(err error) error {
	addr := o.Addrs.String()
	var (
		unknownCA x509.UnknownAuthorityError
		hostErr   x509.HostnameError
		invalid   x509.CertificateInvalidError
		header    tls.RecordHeaderError
		exc       *ch.Exception
	)
	switch {
	case errors.As(err, &unknownCA):
		what := "the system's root CAs (set clickhouse.tls.ca_file to the CA that signs it)"
		if o.TLS.CAFile != "" {
			what = "the CA in clickhouse.tls.ca_file (" + o.TLS.CAFile + ")"
		}
		return fmt.Errorf("cannot verify the TLS certificate of clickhouse at %s: it is not signed by %s: %w", addr, what, err)
	case errors.As(err, &hostErr):
		return fmt.Errorf("cannot verify the TLS certificate of clickhouse at %s: it is not valid for the name dialled (set clickhouse.tls.server_name to a name it carries): %w", addr, err)
	case errors.As(err, &invalid):
		return fmt.Errorf("cannot verify the TLS certificate of clickhouse at %s (expired, or not a server certificate? check clickhouse.tls.ca_file): %w", addr, err)
	case errors.As(err, &header):
		return fmt.Errorf("cannot talk TLS to clickhouse at %s: the port does not speak TLS (use the server's secure port, usually 9440, in clickhouse.addr, or set clickhouse.tls.enabled: false): %w", addr, err)
	case errors.As(err, &exc):
		switch exc.Code {
		case codeUnknownUser, codeWrongPassword, codeRequiredPassword, codeAuthenticationFailed:
			return fmt.Errorf("cannot authenticate to clickhouse at %s as %q: the server refused the credentials (check clickhouse.username and clickhouse.password or clickhouse.password_env): %w",
				addr, o.Username, err)
		case codeUnknownDatabase:
			return fmt.Errorf("cannot use clickhouse.database %q at %s: it does not exist (`sightline migrate` creates it): %w", o.Database, addr, err)
		}
	case !o.TLS.Enabled && (errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF)):
		// A TLS listener drops a connection that starts in plaintext.
		return fmt.Errorf("cannot talk to clickhouse at %s: it closed the connection at the handshake (a TLS port? set clickhouse.tls.enabled: true): %w", addr, err)
	}
	return fmt.Errorf("cannot reach clickhouse at %s: %w", addr, err)
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
