package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sightline-dev/sightline/internal/chlocal"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

// ClusterName is the name of the test cluster in remote_servers.
const ClusterName = "sightline"

// Cluster is a real ClickHouse cluster on this machine for tests: shards
// × replicas clickhouse-server processes on their own loopback ports, each
// with its own data directory, and one ZooKeeper. StartCluster stops all
// of them when the test ends (and the kernel stops them if the test
// process dies: they get SIGKILL/SIGTERM with their parent).
type Cluster struct {
	Name string
	// Dir holds every server's and ZooKeeper's files; their command lines
	// name it (what a test looks for to see that none is left running).
	Dir   string
	Nodes []*ClusterNode // shard-major: shard 1 replica 1, shard 1 replica 2, ...
	zk    *zookeeper
	mu    sync.Mutex
}

// ClusterNode is one host of the cluster.
type ClusterNode struct {
	Shard, Replica int
	cfg            chlocal.Config
	srv            *chlocal.Server // nil while stopped
}

// Addr is the node's native-protocol address.
func (n *ClusterNode) Addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(n.cfg.TCPPort))
}

func (n *ClusterNode) String() string {
	return fmt.Sprintf("shard %d replica %d (%s)", n.Shard, n.Replica, n.Addr())
}

// StartCluster starts shards × replicas servers and a ZooKeeper, all at
// once, or fails the test saying what is missing. Without ZooKeeper (the
// Debian package zookeeper, which deploy/scripts/ensure-deps.sh installs
// for `make test`) the test is skipped, except in CI (CI=true), where it
// fails.
func StartCluster(tb testing.TB, shards, replicas int) *Cluster {
	tb.Helper()
	began := time.Now()
	if _, _, err := findZooKeeper(); err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("cannot start the test cluster: %v", err)
		}
		tb.Skipf("skipped: the ClickHouse cluster tests need ZooKeeper: %v (run deploy/scripts/ensure-deps.sh, which `make test` runs; in CI this is a failure)", err)
	}
	dir := tb.TempDir()
	zk, err := newZooKeeper(filepath.Join(dir, "zookeeper"))
	if err != nil {
		tb.Fatalf("cannot set up ZooKeeper for the test cluster: %v", err)
	}
	c := &Cluster{Name: ClusterName, Dir: dir, zk: zk}
	tb.Cleanup(c.Close)
	tb.Cleanup(func() {
		if tb.Failed() {
			c.logTails(tb)
		}
	})
	ports := make([][]int, shards)
	for s := range ports {
		for r := 0; r < replicas; r++ {
			n := &ClusterNode{Shard: s + 1, Replica: r + 1}
			// A small server: the test cluster's four share the machine.
			n.cfg = chlocal.Config{Dir: filepath.Join(dir, fmt.Sprintf("ch-s%d-r%d", s+1, r+1)), StartTimeout: 90 * time.Second}
			for _, p := range []*int{&n.cfg.TCPPort, &n.cfg.HTTPPort} {
				if *p, err = chlocal.FreePort(); err != nil {
					tb.Fatalf("cannot pick a port: %v", err)
				}
			}
			inter, err := chlocal.FreePort()
			if err != nil {
				tb.Fatalf("cannot pick a port: %v", err)
			}
			n.cfg.Cluster = &chlocal.ClusterConfig{Name: c.Name, ZooKeeper: []string{zk.addr},
				Shard: fmt.Sprintf("%02d", s+1), Replica: fmt.Sprintf("%02d-%02d", s+1, r+1), InterserverPort: inter}
			ports[s] = append(ports[s], n.cfg.TCPPort)
			c.Nodes = append(c.Nodes, n)
		}
	}
	for _, n := range c.Nodes {
		n.cfg.Cluster.Shards = ports
	}
	// ZooKeeper first: a ClickHouse 18.16 whose first connection to
	// ZooKeeper fails crashes (a null session) at its next DDL. Then the
	// servers all at once.
	if err := zk.start(); err != nil {
		tb.Fatalf("cannot start ZooKeeper for the test cluster: %v", err)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(c.Nodes))
	for i := range c.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.start(i)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		tb.Fatalf("cannot start the test cluster: %v", err)
	}
	tb.Logf("%dx%d ClickHouse cluster and ZooKeeper started in %s", shards, replicas, time.Since(began).Round(100*time.Millisecond))
	return c
}

func (c *Cluster) start(i int) error {
	n := c.Nodes[i]
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.StartTimeout)
	defer cancel()
	srv, err := chlocal.Start(ctx, n.cfg)
	if err != nil {
		return fmt.Errorf("%s: %w", n, err)
	}
	c.mu.Lock()
	n.srv = srv
	c.mu.Unlock()
	return nil
}

// logTails logs the end of every server's error log and of ZooKeeper's
// (the directory goes with the test).
func (c *Cluster) logTails(tb testing.TB) {
	logs := []string{filepath.Join(c.Dir, "zookeeper", "zookeeper.log")}
	for _, n := range c.Nodes {
		logs = append(logs, filepath.Join(n.cfg.Dir, "log", "clickhouse-server.err.log"))
	}
	for _, p := range logs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if len(b) > 3000 {
			b = b[len(b)-3000:]
		}
		tb.Logf("end of %s:\n%s", p, b)
	}
}

// Addrs are the native addresses of every node, shard-major.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		out[i] = n.Addr()
	}
	return out
}

// Kill SIGKILLs node i, as a crash would.
func (c *Cluster) Kill(i int) {
	c.mu.Lock()
	srv := c.Nodes[i].srv
	c.Nodes[i].srv = nil
	c.mu.Unlock()
	if srv != nil {
		srv.Kill()
	}
}

// Stop stops node i in order (SIGTERM).
func (c *Cluster) Stop(i int) {
	c.mu.Lock()
	srv := c.Nodes[i].srv
	c.Nodes[i].srv = nil
	c.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

// Start starts a stopped or killed node i again on its data and ports.
func (c *Cluster) Start(tb testing.TB, i int) {
	tb.Helper()
	if err := c.start(i); err != nil {
		tb.Fatalf("cannot restart %s: %v", c.Nodes[i], err)
	}
}

// Close stops every node and ZooKeeper.
func (c *Cluster) Close() {
	var wg sync.WaitGroup
	for i := range c.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Stop(i)
		}()
	}
	wg.Wait()
	c.zk.close()
}

// Options are the connection settings of database db on the cluster:
// every node's address (the driver fails over between them) and the
// cluster's name.
func (c *Cluster) Options(db string) chsink.Options {
	return chsink.Options{Addrs: c.Addrs(), Database: db, Cluster: c.Name, DDLTimeout: 60 * time.Second}
}

// Database creates a fresh database on every host, migrated ON CLUSTER,
// and returns a connection to it; it is dropped ON CLUSTER when the test
// ends.
func (c *Cluster) Database(tb testing.TB) (driver.Conn, chsink.Options) {
	tb.Helper()
	ctx := context.Background()
	var b [6]byte
	_, _ = rand.Read(b[:])
	opts := c.Options("t_" + hex.EncodeToString(b[:]))
	if err := chsink.CreateDatabase(ctx, opts); err != nil {
		tb.Fatalf("cannot create the test database on the cluster: %v", err)
	}
	conn, err := chsink.Open(ctx, opts)
	if err != nil {
		tb.Fatalf("cannot connect to the test cluster: %v", err)
	}
	if _, err := chsink.MigrateOn(ctx, conn, opts); err != nil {
		tb.Fatalf("cannot migrate the test database ON CLUSTER: %v", err)
	}
	tb.Cleanup(func() {
		defer conn.Close()
		// Each host drops its tables and replicas (ZooKeeper paths); with
		// a host down that would wait for it: the cluster goes away with
		// its directory anyway.
		c.mu.Lock()
		up := true
		for _, n := range c.Nodes {
			up = up && n.srv != nil
		}
		c.mu.Unlock()
		if up {
			_ = conn.Exec(context.Background(), fmt.Sprintf("DROP DATABASE IF EXISTS %s ON CLUSTER %s", opts.Database, c.Name))
		}
	})
	return conn, opts
}

// zookeeper is a standalone ZooKeeper server (Debian's zookeeper package:
// its jar, run with java directly, so nothing system-wide is touched).
type zookeeper struct {
	dir  string
	cmd  *exec.Cmd // nil until started
	addr string
	done chan struct{}
}

func findZooKeeper() (java string, classpath string, err error) {
	java, err = exec.LookPath("java")
	if err != nil {
		return "", "", errors.New("java is not installed (the zookeeper package brings a Java runtime)")
	}
	jar := "/usr/share/java/zookeeper.jar"
	if _, err := os.Stat(jar); err != nil {
		return "", "", fmt.Errorf("%s is missing: install the zookeeper package (Debian/Ubuntu: apt-get install zookeeper)", jar)
	}
	cp := []string{jar}
	// A logging binding if there is one (else SLF4J logs nothing).
	for _, j := range []string{"/usr/share/java/slf4j-simple.jar", "/usr/share/java/slf4j-nop.jar"} {
		if _, err := os.Stat(j); err == nil {
			cp = append(cp, j)
			break
		}
	}
	return java, strings.Join(cp, ":"), nil
}

// newZooKeeper picks its port and writes its configuration: a standalone
// server for tests, without fsync (forceSync=no: the data is thrown away,
// and every replicated table's creation is dozens of ZooKeeper writes).
func newZooKeeper(dir string) (*zookeeper, error) {
	port, err := chlocal.FreePort()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o700); err != nil {
		return nil, err
	}
	cfg := fmt.Sprintf("tickTime=500\ninitLimit=10\nsyncLimit=5\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n"+
		"maxClientCnxns=0\nadmin.enableServer=false\n4lw.commands.whitelist=srvr\nforceSync=no\npreAllocSize=1024\n",
		filepath.Join(dir, "data"), port)
	if err := os.WriteFile(filepath.Join(dir, "zoo.cfg"), []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	return &zookeeper{dir: dir, addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), done: make(chan struct{})}, nil
}

// start runs the server and waits until it serves requests.
func (z *zookeeper) start() error {
	java, cp, err := findZooKeeper()
	if err != nil {
		return err
	}
	logf, err := os.Create(filepath.Join(z.dir, "zookeeper.log"))
	if err != nil {
		return err
	}
	// A small, quickly started JVM: the test's ZooKeeper holds little.
	cmd := exec.Command(java, "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Dzookeeper.admin.enableServer=false",
		"-cp", cp, "org.apache.zookeeper.server.ZooKeeperServerMain", filepath.Join(z.dir, "zoo.cfg"))
	cmd.Dir = z.dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		close(z.done)
		return fmt.Errorf("cannot start ZooKeeper: %w", err)
	}
	z.cmd = cmd
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(z.done)
	}()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if z.serving() {
			return nil
		}
		select {
		case <-z.done:
			return fmt.Errorf("ZooKeeper exited during start-up; see %s", logf.Name())
		default:
		}
		if time.Now().After(deadline) {
			z.close()
			return fmt.Errorf("ZooKeeper did not answer within 60s; see %s", logf.Name())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// serving asks ZooKeeper whether it serves requests ("imok" to ruok
// comes before that, and a client that connects then is dropped).
func (z *zookeeper) serving() bool {
	c, err := net.DialTimeout("tcp", z.addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("srvr")); err != nil {
		return false
	}
	b, _ := io.ReadAll(c)
	return strings.Contains(string(b), "Mode: standalone")
}

func (z *zookeeper) close() {
	if z == nil || z.cmd == nil {
		return
	}
	select {
	case <-z.done:
		return
	default:
	}
	_ = syscall.Kill(-z.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-z.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-z.cmd.Process.Pid, syscall.SIGKILL)
		<-z.done
	}
}
