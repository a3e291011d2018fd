package clickhouse_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/sightline-dev/sightline/internal/chlocal"
	"github.com/sightline-dev/sightline/internal/testenv"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

// testCA is a throwaway certificate authority.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	testenv.Must(t, err, "CA key")
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	testenv.Must(t, err, "CA certificate")
	cert, err := x509.ParseCertificate(der)
	testenv.Must(t, err, "parse CA")
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// serverCert writes a certificate for 127.0.0.1 signed by ca, and its key.
func (ca *testCA) serverCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	testenv.Must(t, err, "server key")
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	testenv.Must(t, err, "server certificate")
	kb, err := x509.MarshalECPrivateKey(key)
	testenv.Must(t, err, "marshal key")
	certFile, keyFile = filepath.Join(dir, "server.pem"), filepath.Join(dir, "server.key")
	testenv.Must(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600), "write cert")
	testenv.Must(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600), "write key")
	return certFile, keyFile
}

// A server that requires a password and serves TLS: the right settings
// connect; each wrong one is an error naming the key to fix.
func TestOpenCredentialsAndTLS(t *testing.T) {
	dir := t.TempDir()
	ca, other := newCA(t, "sightline test CA"), newCA(t, "some other CA")
	certFile, keyFile := ca.serverCert(t, dir)
	caFile, otherFile := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "other.pem")
	testenv.Must(t, os.WriteFile(caFile, ca.pem, 0o600), "write CA")
	testenv.Must(t, os.WriteFile(otherFile, other.pem, 0o600), "write other CA")
	tlsPort, err := chlocal.FreePort()
	testenv.Must(t, err, "port")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	srv, err := chlocal.Start(ctx, chlocal.Config{Dir: filepath.Join(dir, "ch"), Password: "s3cret-pw", TLSPort: tlsPort,
		CertFile: certFile, KeyFile: keyFile, StartTimeout: 90 * time.Second})
	testenv.Must(t, err, "start a clickhouse-server that requires a password")
	defer srv.Close()
	plain, secure := srv.Addr(), net.JoinHostPort("127.0.0.1", strconv.Itoa(tlsPort))
	t.Setenv("SIGHTLINE_TEST_CH_PASSWORD", "s3cret-pw")
	on := chsink.TLS{Enabled: true, CAFile: caFile}

	for _, c := range []struct {
		name string
		o    chsink.Options
		want string // "" connects
	}{
		{"password", chsink.Options{Addrs: []string{plain}, Password: "s3cret-pw"}, ""},
		{"password from the environment", chsink.Options{Addrs: []string{plain}, PasswordEnv: "SIGHTLINE_TEST_CH_PASSWORD"}, ""},
		{"TLS with the CA, password from the environment", chsink.Options{Addrs: []string{secure}, PasswordEnv: "SIGHTLINE_TEST_CH_PASSWORD", TLS: on}, ""},
		{"no password", chsink.Options{Addrs: []string{plain}}, "clickhouse.password"},
		{"wrong password", chsink.Options{Addrs: []string{plain}, Password: "guess"}, "clickhouse.password"},
		{"unknown user", chsink.Options{Addrs: []string{plain}, Username: "nobody", Password: "s3cret-pw"}, "clickhouse.username"},
		{"password variable not set", chsink.Options{Addrs: []string{plain}, PasswordEnv: "SIGHTLINE_TEST_CH_UNSET"}, "clickhouse.password_env names the environment variable SIGHTLINE_TEST_CH_UNSET"},
		{"CA that does not match", chsink.Options{Addrs: []string{secure}, Password: "s3cret-pw", TLS: chsink.TLS{Enabled: true, CAFile: otherFile}},
			"not signed by the CA in clickhouse.tls.ca_file"},
		{"system roots", chsink.Options{Addrs: []string{secure}, Password: "s3cret-pw", TLS: chsink.TLS{Enabled: true}}, "set clickhouse.tls.ca_file"},
		{"wrong server name", chsink.Options{Addrs: []string{secure}, Password: "s3cret-pw", TLS: chsink.TLS{Enabled: true, CAFile: caFile, ServerName: "ch.example.com"}},
			"clickhouse.tls.server_name"},
		{"TLS to the plaintext port", chsink.Options{Addrs: []string{plain}, Password: "s3cret-pw", TLS: on}, "clickhouse.tls.enabled: false"},
		{"plaintext to the TLS port", chsink.Options{Addrs: []string{secure}, Password: "s3cret-pw"}, "clickhouse.tls.enabled: true"},
		{"missing database", chsink.Options{Addrs: []string{plain}, Password: "s3cret-pw", Database: "nope"}, `clickhouse.database "nope"`},
		{"unreadable CA file", chsink.Options{Addrs: []string{secure}, TLS: chsink.TLS{Enabled: true, CAFile: filepath.Join(dir, "absent.pem")}}, "clickhouse.tls.ca_file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.o.DialTimeout = 5 * time.Second
			conn, err := chsink.Open(context.Background(), c.o)
			if c.want == "" {
				testenv.Must(t, err, "open")
				var one uint8
				testenv.Must(t, conn.QueryRow(context.Background(), "SELECT 1").Scan(&one), "query")
				conn.Close()
				return
			}
			if err == nil {
				conn.Close()
				t.Fatalf("connected; want an error naming %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not name %q", err, c.want)
			}
			if strings.Contains(err.Error(), "s3cret-pw") {
				t.Fatalf("error %q holds the password", err)
			}
		})
	}
}

// Each bad setting is refused before any connection, naming its key.
func TestOptionsValidate(t *testing.T) {
	for _, c := range []struct {
		o    chsink.Options
		want string
	}{
		{chsink.Options{Addrs: []string{"ch-0"}}, "clickhouse.addr[0]"},
		{chsink.Options{Password: "a", PasswordEnv: "B"}, "clickhouse.password"},
		{chsink.Options{TLS: chsink.TLS{CAFile: "ca.pem"}}, "clickhouse.tls.ca_file: is set but clickhouse.tls.enabled is false"},
		{chsink.Options{TLS: chsink.TLS{Enabled: true, CertFile: "c.pem"}}, "clickhouse.tls.cert_file"},
		{chsink.Options{TLS: chsink.TLS{Enabled: true, CAFile: "ca.pem", InsecureSkipVerify: true}}, "clickhouse.tls.insecure_skip_verify"},
		{chsink.Options{Cluster: "my-cluster"}, "clickhouse.cluster"},
		{chsink.Options{Cluster: "c", Database: "my db"}, "clickhouse.database"},
		{chsink.Options{Cluster: "c", ReplicationPath: "/clickhouse/{table}"}, "clickhouse.replication_path"},
		{chsink.Options{Cluster: "c", DDLTimeout: time.Millisecond}, "clickhouse.ddl_timeout"},
	} {
		o := c.o
		if o.Database == "" {
			o.Database = "default"
		}
		if o.ReplicationPath == "" {
			o.ReplicationPath = chsink.DefaultReplicationPath
		}
		if o.DDLTimeout == 0 {
			o.DDLTimeout = time.Minute
		}
		err := o.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want one naming %q", c.o, err, c.want)
		}
	}
	good := chsink.DefaultOptions()
	good.Addrs, good.Cluster, good.TLS = []string{"ch-0:9440", "ch-1:9440"}, "sightline", chsink.TLS{Enabled: true, CAFile: "ca.pem"}
	if err := good.Validate(); err != nil {
		t.Errorf("valid options refused: %v", err)
	}
}

// clickhouse.addr takes the comma-separated string it always took, or a
// list.
func TestAddrListYAML(t *testing.T) {
	for in, want := range map[string]string{
		"addr: ch-0:9000":                     "ch-0:9000",
		"addr: ch-0:9000, ch-1:9000":          "ch-0:9000,ch-1:9000",
		"addr: [ch-0:9000, ch-1:9000]":        "ch-0:9000,ch-1:9000",
		"addr:\n  - ch-0:9000\n  - ch-1:9000": "ch-0:9000,ch-1:9000",
	} {
		var o chsink.Options
		testenv.Must(t, yaml.Unmarshal([]byte(in), &o), in)
		if got := o.Addrs.String(); got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
	var o chsink.Options
	if err := yaml.Unmarshal([]byte("addr: {a: b}"), &o); err == nil || !strings.Contains(err.Error(), "clickhouse.addr") {
		t.Errorf("a map as addr: %v", err)
	}
}
