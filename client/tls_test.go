package client_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"github.com/thaw-dev/thaw/client"
	"github.com/thaw-dev/thaw/internal/certs"
	"github.com/thaw-dev/thaw/server"
)

// testCA writes a private CA and a server certificate for 127.0.0.1 signed
// by it into dir; it returns the CA pool and the certificate and key files.
func testCA(t *testing.T, dir string) (pool *x509.CertPool, certFile, keyFile string) {
	t.Helper()
	files, err := certs.WriteLocalCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if pool, err = certs.Pool(files.CA); err != nil {
		t.Fatal(err)
	}
	return pool, files.Cert, files.Key
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
	cfg.Timeout = 5 * time.Second // room for the failing handshake on a busy machine
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
