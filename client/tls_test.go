package client_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/thaw-dev/thaw/client"
	"github.com/thaw-dev/thaw/server"
)

// testCA writes a private CA and a server certificate for 127.0.0.1 signed
// by it into dir; it returns the CA pool and the certificate and key files.
func testCA(t *testing.T, dir string) (pool *x509.CertPool, certFile, keyFile string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "thaw test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(caCert)
	return pool, certFile, keyFile
}

func TestTLS(t *testing.T) {
	t.Parallel()
	pool, certFile, keyFile := testCA(t, t.TempDir())
	srv := startServer(t, server.Config{TLSCertFile: certFile, TLSKeyFile: keyFile})
	ctx := t.Context()

	// The tracer sees the HTTP/2 frames inside TLS: the flow-control PING
	// that follows a reply shows up with its purpose decoded.
	trace := &traceLog{}
	creds := client.EndpointCredentials(srv.Addr(), "", &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})
	c := newClient(t, client.Laptop(), creds, client.WithTracer(trace.logger()))
	if err := c.Set(ctx, "c", []byte("k"), []byte("v"), 0); err != nil {
		t.Fatalf("Set over TLS with a private CA: %v", err)
	}
	if v, found, err := c.Get(ctx, "c", []byte("k")); err != nil || !found || string(v) != "v" {
		t.Fatalf("Get over TLS = %q, %v, %v; want v", v, found, err)
	}
	if _, ok := trace.waitFor(t, client.EventPingSent, time.Time{}, 5*time.Second, func(r traceRecord) bool { return r.attrs["purpose"] == "bdp" }); !ok {
		t.Errorf("no PING decoded inside TLS:%s", trace.dump())
	}

	// Without the CA the handshake fails and calls are unavailable.
	cfg := client.Laptop()
	cfg.Timeout = time.Second
	untrusted := newClient(t, cfg, creds.WithTLSConfig(&tls.Config{MinVersion: tls.VersionTLS12}))
	if _, _, err := untrusted.Get(ctx, "c", []byte("k")); !errors.Is(err, client.ErrUnavailable) {
		t.Errorf("Get over TLS without the CA = %v; want ErrUnavailable", err)
	}
	// Plaintext to a TLS server fails too.
	plain := newClient(t, cfg, client.LocalCredentials(srv.Addr()))
	if _, _, err := plain.Get(ctx, "c", []byte("k")); err == nil {
		t.Error("Get in plaintext from a TLS server succeeded")
	}
}
