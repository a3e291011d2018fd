package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sightline-dev/sightline/internal/auth"
	"github.com/sightline-dev/sightline/internal/broker"
	"github.com/sightline-dev/sightline/internal/server"
	"github.com/sightline-dev/sightline/internal/testenv"
	"github.com/sightline-dev/sightline/sdk/sdktest"
)

type keys struct {
	ingestA, readA, admin string
}

func newGuard(t *testing.T, cfg auth.Config) (*auth.Guard, keys) {
	t.Helper()
	ctx := context.Background()
	store := &auth.FileStore{Path: filepath.Join(t.TempDir(), "keys.json")}
	mk := func(tenant string, role auth.Role) string {
		k, rec, err := auth.NewKeyRecord(tenant, role, "t", time.Time{}, "test")
		testenv.Must(t, err, "key")
		testenv.Must(t, store.Add(ctx, rec), "add")
		return k
	}
	ks := keys{ingestA: mk("acme", auth.RoleIngest), readA: mk("acme", auth.RoleRead), admin: mk(auth.AllTenants, auth.RoleAdmin)}
	ring, err := auth.NewKeyring(ctx, store, cfg, nil, nil)
	testenv.Must(t, err, "keyring")
	t.Cleanup(ring.Close)
	cfg.Enabled = true
	g, err := auth.NewGuard(ring, cfg, prometheus.NewRegistry())
	testenv.Must(t, err, "guard")
	return g, ks
}

func do(t *testing.T, method, url, key, body string) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	testenv.Must(t, err, method+" "+url)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

const eventOfBeta = `{"schema_version":1,"event_id":"0190c8e4-5a2b-7c3d-8e4f-0123456789ab","tenant":"beta","app":"a","model":"m","ts":"2026-11-27T10:00:00Z","prompt":[{"role":"user","content":"hi"}]}`

// Every surface needs its key; an event claiming another tenant is
// stored under the key's (relabel) or refused (refuse).
func TestServerAuth(t *testing.T) {
	b := testenv.Broker(t, "")
	prod, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...))
	testenv.Must(t, err, "producer")
	defer prod.Close()
	for i, mode := range []auth.TenantMismatch{auth.Relabel, auth.Refuse} {
		t.Run(string(mode), func(t *testing.T) {
			g, ks := newGuard(t, auth.Config{TenantMismatch: mode})
			topic := broker.TopicEvents
			s, err := server.Start(server.Config{Addr: "127.0.0.1:0", Gatherer: prometheus.NewRegistry(), Producer: prod, Topic: topic, Guard: g})
			testenv.Must(t, err, "start")
			defer s.Close(context.Background())
			base := "http://" + s.Addr()
			for _, c := range []struct {
				method, path, key string
				status            int
			}{
				{"POST", "/v1/events", "", 401}, {"POST", "/v1/events", "slk_forged", 401}, {"POST", "/v1/events", ks.readA, 403},
				{"GET", "/v1/signals", "", 401}, {"GET", "/v1/signals", ks.ingestA, 403}, {"GET", "/v1/audit", ks.readA, 403},
				{"GET", "/v1/anything-added-later", ks.readA, 403}, {"GET", "/metrics", "", 401}, {"GET", "/metrics", ks.ingestA, 403},
				{"GET", "/metrics", ks.readA, 200}, {"GET", "/healthz", "", 200}, {"GET", "/readyz", "", 200}, {"GET", "/v1/schema", "", 200},
				// Without a ClickHouse the reads answer 503, after the key.
				{"GET", "/v1/signals", ks.readA, 503}, {"GET", "/v1/signals?tenant=beta", ks.readA, 403}, {"GET", "/v1/signals?tenant=beta", ks.admin, 503},
			} {
				code, body, hdr := do(t, c.method, base+c.path, c.key, "")
				if code != c.status {
					t.Errorf("%s %s with %q: %d %s", c.method, c.path, c.key, code, body)
				}
				if (code == 401 || code == 403) && (hdr.Get("Content-Type") != "application/json" || !strings.Contains(body, `"error"`)) {
					t.Errorf("%s %s: not a JSON error: %s", c.method, c.path, body)
				}
				if code == 401 && hdr.Get("WWW-Authenticate") == "" {
					t.Errorf("%s %s: 401 without WWW-Authenticate", c.method, c.path)
				}
			}
			code, body, _ := do(t, "POST", base+"/v1/events", ks.ingestA, eventOfBeta)
			if mode == auth.Refuse {
				if code != 403 || !strings.Contains(body, "wrong_tenant") {
					t.Fatalf("refuse: %d %s", code, body)
				}
				// Nothing was produced: the next event is the first.
				code, _, _ = do(t, "POST", base+"/v1/events", ks.ingestA, strings.Replace(eventOfBeta, `"tenant":"beta",`, "", 1))
			}
			if code != 200 {
				t.Fatalf("ingest: %d %s", code, body)
			}
			// One event stored per mode, each under the key's tenant.
			evs := sdktest.ReadEvents(t, b.Addrs(), topic, i+1, 10*time.Second)
			for _, ev := range evs {
				if ev.GetTenant() != "acme" {
					t.Fatalf("stored under %q, want the key's tenant acme", ev.GetTenant())
				}
			}
		})
	}
}

// An unauthenticated 50 MB body is refused before it is read.
func TestUnauthenticatedBodyNotRead(t *testing.T) {
	g, _ := newGuard(t, auth.Config{})
	prod, _ := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:1"))
	defer prod.Close()
	s, err := server.Start(server.Config{Addr: "127.0.0.1:0", Gatherer: prometheus.NewRegistry(), Producer: prod, Topic: "t", Guard: g})
	testenv.Must(t, err, "start")
	defer s.Close(context.Background())
	body := &countingBody{n: 50 << 20}
	req, _ := http.NewRequest("POST", "http://"+s.Addr()+"/v1/events", body)
	req.ContentLength = body.n
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	if body.read > 4<<20 {
		t.Fatalf("the server read %d bytes of an unauthenticated body", body.read)
	}
}

type countingBody struct{ n, read int64 }

func (b *countingBody) Read(p []byte) (int, error) {
	if b.read >= b.n {
		return 0, io.EOF
	}
	n := int64(len(p))
	if n > b.n-b.read {
		n = b.n - b.read
	}
	b.read += n
	return int(n), nil
}

// Reads beyond reads.max_concurrent wait reads.queue_timeout, then 429.
func TestReadLimiter(t *testing.T) {
	l, err := server.NewReadLimiter(server.ReadConfig{MaxConcurrent: 1, QueueTimeout: 50 * time.Millisecond}, prometheus.NewRegistry())
	testenv.Must(t, err, "limiter")
	release := make(chan struct{})
	started := make(chan struct{})
	h := l.Wrap("read", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
	}))
	srv := &http.Server{Handler: h}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.Serve(ln)
	defer srv.Close()
	go http.Get("http://" + ln.Addr().String())
	<-started
	code, body, hdr := do(t, "GET", "http://"+ln.Addr().String(), "", "")
	close(release)
	if code != 429 || hdr.Get("Retry-After") == "" || !strings.Contains(body, "reads.max_concurrent") {
		t.Fatalf("second read: %d %s", code, body)
	}
	if err := (server.ReadConfig{MaxConcurrent: -1}).Validate(); err == nil {
		t.Error("a negative limit was accepted")
	}
}

// The server serves TLS with the certificate the reloader holds.
func TestServerTLS(t *testing.T) {
	dir := t.TempDir()
	pool := writeCert(t, dir)
	r, err := auth.NewCertReloader(auth.TLSConfig{CertFile: filepath.Join(dir, "tls.crt"), KeyFile: filepath.Join(dir, "tls.key")}, nil, nil)
	testenv.Must(t, err, "reloader")
	defer r.Close()
	s, err := server.Start(server.Config{Addr: "127.0.0.1:0", Gatherer: prometheus.NewRegistry(), TLS: r.TLSConfig()})
	testenv.Must(t, err, "start")
	defer s.Close(context.Background())
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := c.Get("https://" + s.Addr() + "/healthz")
	testenv.Must(t, err, "https")
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("%d", resp.StatusCode)
	}
	if resp, err := http.Get("http://" + s.Addr() + "/healthz"); err == nil && resp.StatusCode == 200 {
		t.Fatal("plain HTTP answered on the TLS port")
	}
}

func writeCert(t *testing.T, dir string) *x509.CertPool {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sightline-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	testenv.Must(t, err, "cert")
	kb, _ := x509.MarshalECPrivateKey(key)
	os.WriteFile(filepath.Join(dir, "tls.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(filepath.Join(dir, "tls.key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool
}
