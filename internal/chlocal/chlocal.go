// Package chlocal runs a local clickhouse-server process for single-machine
// mode (`sightline up`) and for tests: it writes a minimal generated config
// under a data directory, starts the server on loopback ports, waits until it
// answers and stops it on Close. A Supervisor restarts the server when it
// dies.
//
// It never touches the system-wide ClickHouse configuration or data, it
// never listens on anything but loopback, and what it writes (and what the
// server writes, through the generated config's umask) is readable by the
// owner only: the data holds prompts and completions.
package chlocal

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrNotInstalled is returned when no clickhouse-server binary can be found.
var ErrNotInstalled = errors.New("clickhouse-server is not installed: install it from your OS packages " +
	"(Debian/Ubuntu: `sudo apt-get install clickhouse-server`) or point Sightline at a running server " +
	"with --clickhouse-addr HOST:9000")

// Config says where and how to run the server.
type Config struct {
	// Dir holds the generated config, data and logs. Required.
	Dir string
	// TCPPort is the native protocol port (default 19000; 0 picks a free one).
	TCPPort int
	// HTTPPort is the HTTP port (default 18123; 0 picks a free one).
	HTTPPort int
	// Binary overrides the server binary (default: clickhouse-server on PATH,
	// then `clickhouse server`).
	Binary string
	// StartTimeout bounds the wait for the server to answer (default 60s).
	StartTimeout time.Duration
	// Stderr receives the server's own stderr (default: discarded; the
	// server logs to Dir/log).
	Stderr io.Writer
	// Password, when set, is required of the default user (stored as its
	// SHA-256), for tests of credentials.
	Password string
	// TLSPort, when set, serves the native protocol over TLS on this port
	// (tcp_port_secure) with CertFile and KeyFile (PEM).
	TLSPort           int
	CertFile, KeyFile string
	// Cluster makes the server one host of a cluster (for tests: see
	// internal/testenv's StartCluster).
	Cluster *ClusterConfig
}

// ClusterConfig is one host's view of a cluster: the cluster's hosts
// (remote_servers), ZooKeeper, its own shard and replica (macros, used in
// replicated tables' paths) and the port replicas fetch parts on.
type ClusterConfig struct {
	Name string
	// Shards lists each shard's replicas, 127.0.0.1 ports of their native
	// protocol.
	Shards [][]int
	// ZooKeeper is host:port of the ZooKeeper servers.
	ZooKeeper []string
	// Shard and Replica are this host's macros ({shard}, {replica}).
	Shard, Replica string
	// InterserverPort serves parts to the other replicas (required).
	InterserverPort int
}

func (c *ClusterConfig) xml() string {
	var b strings.Builder
	fmt.Fprintf(&b, "    <remote_servers>\n        <%s>\n", c.Name)
	for _, shard := range c.Shards {
		// internal_replication: an insert goes to one replica, which
		// replicates it (the tables are Replicated*MergeTree).
		b.WriteString("            <shard>\n                <internal_replication>true</internal_replication>\n")
		for _, port := range shard {
			fmt.Fprintf(&b, "                <replica><host>127.0.0.1</host><port>%d</port></replica>\n", port)
		}
		b.WriteString("            </shard>\n")
	}
	fmt.Fprintf(&b, "        </%s>\n    </remote_servers>\n    <zookeeper>\n", c.Name)
	for _, zk := range c.ZooKeeper {
		host, port, _ := strings.Cut(zk, ":")
		fmt.Fprintf(&b, "        <node><host>%s</host><port>%s</port></node>\n", host, port)
	}
	fmt.Fprintf(&b, "        <session_timeout_ms>10000</session_timeout_ms>\n    </zookeeper>\n")
	fmt.Fprintf(&b, "    <macros><shard>%s</shard><replica>%s</replica></macros>\n", c.Shard, c.Replica)
	fmt.Fprintf(&b, "    <interserver_http_host>127.0.0.1</interserver_http_host>\n    <interserver_http_port>%d</interserver_http_port>\n", c.InterserverPort)
	b.WriteString("    <distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>\n")
	return b.String()
}

// Server is a running local ClickHouse.
type Server struct {
	cfg  Config
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// Addr is the native protocol address (host:port).
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.cfg.TCPPort)) }

// HTTPAddr is the HTTP interface address.
func (s *Server) HTTPAddr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.cfg.HTTPPort))
}

// FindBinary returns the command that starts a ClickHouse server.
func FindBinary() ([]string, error) {
	if p, err := exec.LookPath("clickhouse-server"); err == nil {
		return []string{p}, nil
	}
	for _, p := range []string{"/usr/bin/clickhouse-server", "/usr/sbin/clickhouse-server"} {
		if _, err := os.Stat(p); err == nil {
			return []string{p}, nil
		}
	}
	if p, err := exec.LookPath("clickhouse"); err == nil {
		return []string{p, "server"}, nil
	}
	return nil, ErrNotInstalled
}

// FreePort asks the kernel for a free loopback TCP port.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Start writes the config and starts the server, returning once it answers
// queries. The caller must Close it.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Dir == "" {
		return nil, errors.New("cannot start local clickhouse: no directory given")
	}
	bin := []string{cfg.Binary}
	if cfg.Binary == "" {
		var err error
		if bin, err = FindBinary(); err != nil {
			return nil, err
		}
	}
	var err error
	if cfg.TCPPort == 0 {
		if cfg.TCPPort, err = FreePort(); err != nil {
			return nil, fmt.Errorf("cannot pick a port for clickhouse: %w", err)
		}
	}
	if cfg.HTTPPort == 0 {
		if cfg.HTTPPort, err = FreePort(); err != nil {
			return nil, fmt.Errorf("cannot pick a port for clickhouse: %w", err)
		}
	}
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = 60 * time.Second
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("cannot resolve clickhouse directory: %w", err)
	}
	cfg.Dir = dir
	// Chmod as well as MkdirAll: a directory left by an older release (or
	// made by hand) may be group- or world-readable.
	for _, d := range []string{"", "data", "tmp", "user_files", "format_schemas", "log"} {
		p := filepath.Join(dir, d)
		if err := os.MkdirAll(p, 0o700); err != nil {
			return nil, fmt.Errorf("cannot create clickhouse directory: %w", err)
		}
		if err := os.Chmod(p, 0o700); err != nil {
			return nil, fmt.Errorf("cannot restrict clickhouse directory %s: %w", p, err)
		}
	}
	if err := writeConfig(cfg); err != nil {
		return nil, err
	}
	if conn, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.TCPPort)), 200*time.Millisecond); err == nil {
		conn.Close()
		return nil, fmt.Errorf("cannot start local clickhouse: port %d is already in use (another server running? use --clickhouse-addr to point at it)", cfg.TCPPort)
	}
	args := append(bin[1:], "--config-file="+filepath.Join(dir, "config.xml"))
	cmd := exec.Command(bin[0], args...)
	cmd.Dir = dir
	cmd.Stdout = io.Discard
	cmd.Stderr = cfg.Stderr
	if cmd.Stderr == nil {
		cmd.Stderr = io.Discard
	}
	// Own process group so a Ctrl-C to the parent's terminal is handled by
	// the parent, which stops the server in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("cannot start %s: %w", bin[0], err)
	}
	s := &Server{cfg: cfg, cmd: cmd, done: make(chan struct{})}
	go func() {
		s.err = cmd.Wait()
		close(s.done)
	}()
	if err := s.waitReady(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Server) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(s.cfg.StartTimeout)
	q := url.Values{"query": {"SELECT 1"}}
	if s.cfg.Password != "" {
		q.Set("user", "default")
		q.Set("password", s.cfg.Password)
	}
	u := "http://" + s.HTTPAddr() + "/?" + q.Encode()
	client := &http.Client{Timeout: time.Second}
	for {
		select {
		case <-s.done:
			return fmt.Errorf("local clickhouse exited during start-up (%v); see %s", s.err, s.ErrorLog())
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		resp, err := client.Get(u)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 && strings.TrimSpace(string(body)) == "1" {
				// The HTTP port may answer before the native one is bound.
				if c, err := net.DialTimeout("tcp", s.Addr(), time.Second); err == nil {
					c.Close()
					return nil
				}
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("local clickhouse did not answer within %s; see %s", s.cfg.StartTimeout, s.ErrorLog())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Close stops the server (SIGTERM, then SIGKILL after 20s) and waits for it.
func (s *Server) Close() error {
	select {
	case <-s.done:
		return nil
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	return nil
}

// ErrorLog is the server's error log, where the reason it failed is.
func (s *Server) ErrorLog() string { return errorLog(s.cfg.Dir) }

func errorLog(dir string) string { return filepath.Join(dir, "log", "clickhouse-server.err.log") }

// Done is closed when the server process exits.
func (s *Server) Done() <-chan struct{} { return s.done }

// Kill stops the server at once (SIGKILL), as a crash would, and waits for
// it (tests of a replica going down).
func (s *Server) Kill() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Kill()
	<-s.done
}

// Config is the configuration the server runs with (ports filled in).
func (s *Server) Config() Config { return s.cfg }

func writeConfig(cfg Config) error {
	d := cfg.Dir
	// <yandex> is the root element every release from 18.16 to current
	// accepts; old releases need the caches and paths spelled out.
	config := fmt.Sprintf(`<?xml version="1.0"?>
<yandex>
    <logger>
        <level>warning</level>
        <log>%[1]s/log/clickhouse-server.log</log>
        <errorlog>%[1]s/log/clickhouse-server.err.log</errorlog>
        <size>100M</size>
        <count>3</count>
    </logger>
    <!-- Data, metadata and logs for the owner only (files 0600, directories 0700). -->
    <umask>077</umask>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>%[2]d</tcp_port>
    <http_port>%[3]d</http_port>
    <max_connections>256</max_connections>
    <keep_alive_timeout>3</keep_alive_timeout>
    <max_concurrent_queries>64</max_concurrent_queries>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <mark_cache_size>268435456</mark_cache_size>
    <path>%[1]s/data/</path>
    <tmp_path>%[1]s/tmp/</tmp_path>
    <user_files_path>%[1]s/user_files/</user_files_path>
    <format_schema_path>%[1]s/format_schemas/</format_schema_path>
    <users_config>%[1]s/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>
    <builtin_dictionaries_reload_interval>3600</builtin_dictionaries_reload_interval>
    <max_session_timeout>3600</max_session_timeout>
    <default_session_timeout>60</default_session_timeout>
%[4]s</yandex>
`, d, cfg.TCPPort, cfg.HTTPPort, extraConfig(cfg))
	// A cluster's hosts read and write each shard through its first live
	// replica (what sinks/clickhouse requires in cluster mode).
	loadBalancing := "random"
	if cfg.Cluster != nil {
		loadBalancing = "in_order"
	}
	password := "<password></password>"
	if cfg.Password != "" {
		password = fmt.Sprintf("<password_sha256_hex>%x</password_sha256_hex>", sha256.Sum256([]byte(cfg.Password)))
	}
	users := `<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <max_memory_usage>4000000000</max_memory_usage>
            <load_balancing>` + loadBalancing + `</load_balancing>
        </default>
    </profiles>
    <users>
        <default>
            ` + password + `
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
`
	for name, body := range map[string]string{"config.xml": config, "users.xml": users} {
		p := filepath.Join(d, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			return fmt.Errorf("cannot write clickhouse config %s: %w", p, err)
		}
		// WriteFile keeps the mode of a file that already exists.
		if err := os.Chmod(p, 0o600); err != nil {
			return fmt.Errorf("cannot restrict clickhouse config %s: %w", p, err)
		}
	}
	return nil
}

// extraConfig is the optional part of config.xml: the TLS port and the
// cluster.
func extraConfig(cfg Config) string {
	var b strings.Builder
	if cfg.TLSPort != 0 {
		fmt.Fprintf(&b, `    <tcp_port_secure>%d</tcp_port_secure>
    <openSSL>
        <server>
            <certificateFile>%s</certificateFile>
            <privateKeyFile>%s</privateKeyFile>
            <verificationMode>none</verificationMode>
            <loadDefaultCAFile>false</loadDefaultCAFile>
            <cacheSessions>true</cacheSessions>
            <disableProtocols>sslv2,sslv3</disableProtocols>
            <preferServerCiphers>true</preferServerCiphers>
        </server>
    </openSSL>
`, cfg.TLSPort, cfg.CertFile, cfg.KeyFile)
	}
	if cfg.Cluster != nil {
		b.WriteString(cfg.Cluster.xml())
	}
	return b.String()
}
