package server_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/thaw-dev/thaw/api/cachepb"
	"github.com/thaw-dev/thaw/internal/auth"
	"github.com/thaw-dev/thaw/internal/auth/authtest"
	"github.com/thaw-dev/thaw/internal/certs"
	"github.com/thaw-dev/thaw/server"
)

// TestHTTPAPIIsOffByDefault: without HTTPAddr there is no HTTP API listener.
func TestHTTPAPIIsOffByDefault(t *testing.T) {
	srv := startServer(t, server.Config{})
	if got := srv.HTTPAddr(); got != "" {
		t.Errorf("HTTPAddr() = %q without Config.HTTPAddr, want \"\"", got)
	}
}

// TestHTTPAPIServesTLSWithTheServiceCertificate: with TLS and auth, the HTTP
// API is HTTPS with the service's certificate, a plaintext request is
// refused, and an item set over HTTPS is read over gRPC with TLS.
func TestHTTPAPIServesTLSWithTheServiceCertificate(t *testing.T) {
	files, err := certs.WriteLocalCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	secret := bytes.Repeat([]byte("s"), 32)
	srv := startServer(t, server.Config{
		TLSCertFile: files.Cert, TLSKeyFile: files.Key, AuthSecret: secret,
		HTTPAddr: "127.0.0.1:0", CreateCaches: []string{"c"},
	})
	token := authtest.Signer(t, secret)(auth.Claims{Role: auth.RoleReadWrite})
	pool, err := certs.Pool(files.CA)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()

	req, _ := http.NewRequest("PUT", "https://"+srv.HTTPAddr()+"/cache/c?key=k&ttl_seconds=60", strings.NewReader("over https"))
	req.Header.Set("Authorization", token)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("HTTPS PUT: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("HTTPS PUT = %d, want 204", resp.StatusCode)
	}
	servedCert := resp.TLS.PeerCertificates[0].Raw
	pemData, err := os.ReadFile(files.Cert)
	if err != nil {
		t.Fatal(err)
	}
	if block, _ := pem.Decode(pemData); block == nil || !bytes.Equal(block.Bytes, servedCert) {
		t.Error("the HTTP API's certificate is not the service's --tls-cert")
	}

	plain, err := http.Get("http://" + srv.HTTPAddr() + "/cache/c?key=k&token=" + token)
	if err == nil {
		body, _ := io.ReadAll(plain.Body)
		plain.Body.Close()
		if plain.StatusCode == http.StatusOK {
			t.Errorf("plaintext GET on the HTTPS port = 200 %q, want a refusal", body)
		}
	}

	conn, err := grpc.NewClient(srv.Addr(), grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool})))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	got, err := cachepb.NewScsClient(conn).Get(inCache(t, "c", "authorization", token), &cachepb.XGetRequest{CacheKey: []byte("k")})
	if err != nil || string(got.GetCacheBody()) != "over https" {
		t.Errorf("gRPC Get after HTTPS PUT = %q, %v; want \"over https\"", got.GetCacheBody(), err)
	}
}

// TestHTTPAPIInsecureBind: the HTTP API port follows the service port's
// rule: reachable from other hosts only with TLS and auth, or with
// InsecureBind and a warning.
func TestHTTPAPIInsecureBind(t *testing.T) {
	files, err := certs.WriteLocalCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	secret := bytes.Repeat([]byte("s"), 32)
	tests := []struct {
		name     string
		cfg      server.Config
		refused  bool
		wantWarn string
	}{
		{"loopback, plaintext, no auth", server.Config{HTTPAddr: "127.0.0.1:0"}, false, ""},
		{"all interfaces, plaintext, no auth", server.Config{HTTPAddr: "0.0.0.0:0"}, true, ""},
		{"all interfaces, TLS, no auth", server.Config{HTTPAddr: "0.0.0.0:0", TLSCertFile: files.Cert, TLSKeyFile: files.Key}, true, ""},
		{"all interfaces, auth, plaintext", server.Config{HTTPAddr: "0.0.0.0:0", AuthSecret: secret}, true, ""},
		{"all interfaces, TLS and auth", server.Config{HTTPAddr: "0.0.0.0:0", AuthSecret: secret, TLSCertFile: files.Cert, TLSKeyFile: files.Key}, false, ""},
		{"accepted with a warning", server.Config{HTTPAddr: "0.0.0.0:0", InsecureBind: true}, false, "HTTP API port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			tt.cfg.Addr = "127.0.0.1:0"
			tt.cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			srv, err := server.Start(context.Background(), tt.cfg)
			if srv != nil {
				defer srv.Close()
			}
			if refused := errors.Is(err, server.ErrInsecureBind); refused != tt.refused || (err != nil && !refused) {
				t.Fatalf("Start(%s) error = %v, want refused %v", tt.name, err, tt.refused)
			}
			if tt.refused && !strings.Contains(err.Error(), "HTTP API port") {
				t.Errorf("Start(%s) error = %v, want it to name the HTTP API port", tt.name, err)
			}
			if tt.wantWarn != "" && (!strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), tt.wantWarn)) {
				t.Errorf("Start(%s) logs %q, want a warning mentioning %q", tt.name, logs.String(), tt.wantWarn)
			}
			if tt.wantWarn == "" && strings.Contains(logs.String(), "insecure bind") {
				t.Errorf("Start(%s) logs %q, want no insecure-bind warning", tt.name, logs.String())
			}
		})
	}
}

// TestHTTPAPIGracefulShutdown: Shutdown stops the HTTP API accepting
// connections, lets a request in flight finish, and only then returns.
func TestHTTPAPIGracefulShutdown(t *testing.T) {
	srv, err := server.Start(context.Background(), server.Config{Addr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", CreateCaches: []string{"c"}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	addr := srv.HTTPAddr()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A PUT whose body has not arrived yet. The server answers "100
	// Continue" once the handler reads the body: from then on the request is
	// in flight. (One whose headers the server had not read when Shutdown
	// began would be dropped, by design of net/http.)
	if _, err := io.WriteString(conn, "PUT /cache/c?key=k&ttl_seconds=60 HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	responses := bufio.NewReader(conn)
	interim, err := http.ReadResponse(responses, nil)
	if err != nil || interim.StatusCode != http.StatusContinue {
		t.Fatalf("first response = %v, %v; want 100 Continue", interim, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	shutdown := make(chan error, 1)
	go func() { shutdown <- srv.Shutdown(ctx) }()

	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			break // no longer accepting
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("the HTTP API still accepts connections 10s into Shutdown")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-shutdown:
		t.Fatalf("Shutdown returned (%v) with a request in flight", err)
	default:
	}
	if _, err := io.WriteString(conn, "helloworld"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(responses, nil)
	if err != nil {
		t.Fatalf("reading the in-flight response: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("in-flight PUT = %d, want 204", resp.StatusCode)
	}
	if err := <-shutdown; err != nil {
		t.Errorf("Shutdown = %v, want nil", err)
	}
}
