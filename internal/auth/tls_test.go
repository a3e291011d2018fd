package auth

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
	"syscall"
	"testing"
	"time"
)

// WriteTestCert writes a self-signed certificate for 127.0.0.1 and
// localhost with the given serial to dir/tls.crt and dir/tls.key.
func writeTestCert(t *testing.T, dir string, serial int64) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "sightline-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"localhost"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	// Written beside and renamed, as cert-manager and certbot do.
	for _, f := range []struct {
		path string
		b    []byte
	}{{certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, {keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})}} {
		if err := os.WriteFile(f.path+".tmp", f.b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(f.path+".tmp", f.path); err != nil {
			t.Fatal(err)
		}
	}
	return certFile, keyFile
}

func servedSerial(t *testing.T, r *CertReloader) int64 {
	t.Helper()
	c, err := r.TLSConfig().GetCertificate(&tls.ClientHelloInfo{})
	if err != nil {
		t.Fatal(err)
	}
	x, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return x.SerialNumber.Int64()
}

func waitSerial(t *testing.T, r *CertReloader, want int64, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for servedSerial(t, r) != want {
		if time.Now().After(deadline) {
			t.Fatalf("still serving %d, want %d", servedSerial(t, r), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCertReload(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeTestCert(t, dir, 1)
	r, err := NewCertReloader(TLSConfig{CertFile: cert, KeyFile: key, ReloadInterval: 100 * time.Millisecond}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if servedSerial(t, r) != 1 {
		t.Fatal("first certificate not served")
	}
	writeTestCert(t, dir, 2)
	waitSerial(t, r, 2, 2*time.Second)
	// A broken file keeps the certificate in use.
	os.WriteFile(cert, []byte("not a certificate"), 0o600)
	time.Sleep(300 * time.Millisecond)
	if servedSerial(t, r) != 2 {
		t.Fatal("a broken file replaced the certificate")
	}
	if _, err := NewCertReloader(TLSConfig{CertFile: cert, KeyFile: key}, nil, nil); err == nil {
		t.Fatal("started with a broken certificate")
	}
}

func TestCertReloadOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeTestCert(t, dir, 1)
	// Checked for changes once an hour: only SIGHUP reloads.
	r, err := NewCertReloader(TLSConfig{CertFile: cert, KeyFile: key, ReloadInterval: time.Hour}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	writeTestCert(t, dir, 3)
	time.Sleep(50 * time.Millisecond)
	if servedSerial(t, r) != 1 {
		t.Fatal("reloaded without a signal")
	}
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	waitSerial(t, r, 3, 2*time.Second)
}
