// Package kafkatest gives tests a secured in-process broker: franz-go's
// kfake with TLS (a throwaway CA made with crypto/x509) and SASL users,
// and the matching kafkaconf.Config. It is for tests only and never
// imported by a binary.
package kafkatest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/sightline-dev/sightline/schemas"
	"github.com/sightline-dev/sightline/schemas/kafkaconf"
)

// CA is a throwaway certificate authority whose files live in a test's
// temporary directory.
type CA struct {
	cert   *x509.Certificate
	key    *ecdsa.PrivateKey
	dir    string
	CAFile string // PEM of the CA certificate
}

// NewCA makes a CA; name tells two apart in file names.
func NewCA(tb testing.TB, name string) *CA {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(tb, err)
	tmpl := &x509.Certificate{
		SerialNumber:          serial(tb),
		Subject:               pkix.Name{CommonName: "sightline test CA " + name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	must(tb, err)
	cert, err := x509.ParseCertificate(der)
	must(tb, err)
	ca := &CA{cert: cert, key: key, dir: tb.TempDir()}
	ca.CAFile = filepath.Join(ca.dir, name+"-ca.pem")
	writePEM(tb, ca.CAFile, "CERTIFICATE", der)
	return ca
}

// Issue signs a certificate for the DNS names and IPs in hosts, for a
// server or a client, and returns its files and the tls.Certificate.
func (ca *CA) Issue(tb testing.TB, name string, server bool, hosts ...string) (certFile, keyFile string, pair tls.Certificate) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(tb, err)
	usage := x509.ExtKeyUsageClientAuth
	if server {
		usage = x509.ExtKeyUsageServerAuth
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(tb),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	must(tb, err)
	kder, err := x509.MarshalECPrivateKey(key)
	must(tb, err)
	certFile, keyFile = filepath.Join(ca.dir, name+".pem"), filepath.Join(ca.dir, name+"-key.pem")
	writePEM(tb, certFile, "CERTIFICATE", der)
	writePEM(tb, keyFile, "EC PRIVATE KEY", kder)
	pair, err = tls.LoadX509KeyPair(certFile, keyFile)
	must(tb, err)
	return certFile, keyFile, pair
}

// Pool is a pool holding only this CA.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// Users of the secured broker, one per mechanism, and the password they
// share.
const (
	UserPlain    = "sightline-plain"
	UserScram256 = "sightline-256"
	UserScram512 = "sightline-512"
	Password     = "correct horse battery staple"
)

// Broker is a running secured kfake cluster.
type Broker struct {
	Addrs []string
	CA    *CA
	c     *kfake.Cluster
}

// Options of Start.
type Options struct {
	TLS        bool // serve TLS with a certificate for 127.0.0.1 and localhost
	ClientAuth bool // with TLS: require a client certificate from CA
	SASL       bool // require SASL: UserPlain, UserScram256, UserScram512
	Partitions int32
}

// Start starts a broker with the Sightline topics, closed when the test
// ends.
func Start(tb testing.TB, o Options) *Broker {
	tb.Helper()
	if o.Partitions == 0 {
		o.Partitions = 2
	}
	b := &Broker{}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.SeedTopics(o.Partitions, schemas.TopicEvents, schemas.TopicDLQ, schemas.TopicPartials, schemas.TopicAlerts),
		kfake.DefaultNumPartitions(int(o.Partitions)),
		kfake.AllowAutoTopicCreation(),
	}
	if o.TLS {
		b.CA = NewCA(tb, "broker")
		_, _, pair := b.CA.Issue(tb, "broker", true, "127.0.0.1", "localhost")
		tc := &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
		if o.ClientAuth {
			tc.ClientAuth, tc.ClientCAs = tls.RequireAndVerifyClientCert, b.CA.Pool()
		}
		opts = append(opts, kfake.TLS(tc))
	}
	if o.SASL {
		opts = append(opts, kfake.EnableSASL(),
			kfake.Superuser(kafkaconf.MechanismPlain, UserPlain, Password),
			kfake.Superuser(kafkaconf.MechanismScramSHA256, UserScram256, Password),
			kfake.Superuser(kafkaconf.MechanismScramSHA512, UserScram512, Password))
	}
	c, err := kfake.NewCluster(opts...)
	must(tb, err)
	tb.Cleanup(c.Close)
	b.c, b.Addrs = c, c.ListenAddrs()
	return b
}

// Config is the client configuration that connects to b: TLS with b's
// CA when b serves TLS, SASL with the given mechanism's user when
// mechanism is not empty.
func (b *Broker) Config(mechanism string) kafkaconf.Config {
	c := kafkaconf.Config{Brokers: b.Addrs}
	if b.CA != nil {
		c.TLS = kafkaconf.TLS{Enabled: true, CAFile: b.CA.CAFile}
	}
	if mechanism != "" {
		user := map[string]string{
			kafkaconf.MechanismPlain: UserPlain, kafkaconf.MechanismScramSHA256: UserScram256, kafkaconf.MechanismScramSHA512: UserScram512,
		}[mechanism]
		c.SASL = kafkaconf.SASL{Mechanism: mechanism, Username: user, Password: Password}
	}
	return c
}

func serial(tb testing.TB) *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	must(tb, err)
	return n
}

func writePEM(tb testing.TB, path, typ string, der []byte) {
	tb.Helper()
	must(tb, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600))
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}
