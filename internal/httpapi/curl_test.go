package httpapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/thaw-dev/thaw/internal/apikey"
	"github.com/thaw-dev/thaw/internal/auth"
	"github.com/thaw-dev/thaw/internal/auth/authtest"
	"github.com/thaw-dev/thaw/internal/certs"
	"github.com/thaw-dev/thaw/server"
)

// curlResult is what one run of curl reported.
type curlResult struct {
	status      int
	contentType string
	body        []byte
}

// runCurl runs the real curl binary with args and the URL last, and returns
// the status, Content-Type and body it got.
func runCurl(t *testing.T, args ...string) curlResult {
	t.Helper()
	bin, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl is not installed (test.sh installs it)")
	}
	out := filepath.Join(t.TempDir(), "body")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	full := append([]string{"--silent", "--show-error", "--globoff", "--output", out, "--write-out", "%{http_code} %{content_type}"}, args...)
	cmd := exec.CommandContext(ctx, bin, full...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	written, err := cmd.Output()
	if err != nil {
		t.Fatalf("curl %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	code, contentType, _ := strings.Cut(string(written), " ")
	status, err := strconv.Atoi(code)
	if err != nil {
		t.Fatalf("curl %s wrote %q, want a status code first", strings.Join(args, " "), written)
	}
	body, err := os.ReadFile(out)
	if err != nil && !os.IsNotExist(err) { // curl writes no file for an empty body
		t.Fatal(err)
	}
	return curlResult{status: status, contentType: contentType, body: body}
}

// TestHTTPCurl drives the HTTP API with curl, auth on: the docs' examples with
// a binary key percent-encoded in the URL, a binary value from a file, the
// key in a header or the query, and each documented error.
func TestHTTPCurl(t *testing.T) {
	secret := bytes.Repeat([]byte("s"), 32)
	_, base := startServer(t, server.Config{AuthSecret: secret, CreateCaches: []string{"c"}})
	sign := authtest.Signer(t, secret)
	// What `thaw token create` prints: a whole v1 key.
	readWrite := apikey.EncodeV1("127.0.0.1:1", sign(auth.Claims{ID: "rw", Role: auth.RoleReadWrite}))
	readOnly := sign(auth.Claims{ID: "ro", Role: auth.RoleReadOnly})
	other, _ := auth.NewSigner(bytes.Repeat([]byte("x"), 32))
	wrong, _ := other.Sign(auth.Claims{Role: auth.RoleSuperuser})

	key := []byte{'b', 'i', 'n', 0, 0xff, '&', '=', ' ', '/'}
	value := allBytes()
	valueFile := filepath.Join(t.TempDir(), "value.bin")
	if err := os.WriteFile(valueFile, value, 0o600); err != nil {
		t.Fatal(err)
	}
	itemAt := base + "/cache/c?key=" + url.QueryEscape(string(key))
	header := "Authorization: " + readWrite
	tokenParam := "&token=" + url.QueryEscape(readWrite)

	steps := []struct {
		name        string
		args        []string
		status      int
		contentType string
		body        []byte // exact, when not nil
		bodyHas     string
	}{
		{"miss", []string{"-H", header, itemAt}, 404, "text/plain; charset=utf-8", []byte("Key Not Found\n"), ""},
		{"set a binary value", []string{"-X", "PUT", "-H", header, "--data-binary", "@" + valueFile, itemAt + "&ttl_seconds=300"}, 204, "", nil, ""},
		{"get, key in the header", []string{"-H", header, itemAt}, 200, "application/octet-stream", value, ""},
		{"get, key in the query", []string{itemAt + tokenParam}, 200, "application/octet-stream", value, ""},
		{"get by key_base64", []string{"-H", header, base + "/cache/c?key_base64=" + base64.RawURLEncoding.EncodeToString(key)}, 200, "application/octet-stream", value, ""},
		{"missing ttl", []string{"-X", "PUT", "-H", header, "--data-binary", "@" + valueFile, itemAt}, 400, "", nil, "ttl_seconds is required"},
		{"unknown cache", []string{"-H", header, base + "/cache/nope?key=k"}, 404, "", nil, "Cache Not Found"},
		{"no key", []string{itemAt}, 401, "", nil, "missing api key"},
		{"wrong key", []string{"-H", "Authorization: " + wrong, itemAt}, 401, "", nil, "invalid api key"},
		{"read-only key writes", []string{"-X", "PUT", "-H", "Authorization: " + readOnly, "-d", "x", itemAt + "&ttl_seconds=1"}, 403, "", nil, "permission denied"},
		{"key in header and query", []string{"-H", header, itemAt + tokenParam}, 400, "", nil, "not both"},
		{"publish text", []string{"-X", "POST", "-H", header, "-H", "Content-Type: text/plain", "-d", "hello", base + "/topics/c/news"}, 204, "", nil, ""},
		{"publish, the docs' form", []string{"-X", "POST", "-d", "hello world!", base + "/topics/c/news?token=" + url.QueryEscape(readWrite)}, 204, "", nil, ""},
		{"delete", []string{"-X", "DELETE", "-H", header, itemAt}, 204, "", nil, ""},
		{"miss after delete", []string{"-H", header, itemAt}, 404, "", []byte("Key Not Found\n"), ""},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			got := runCurl(t, s.args...)
			if got.status != s.status {
				t.Fatalf("curl %s: status %d (%q), want %d", strings.Join(s.args, " "), got.status, got.body, s.status)
			}
			if s.contentType != "" && got.contentType != s.contentType {
				t.Errorf("curl %s: Content-Type %q, want %q", strings.Join(s.args, " "), got.contentType, s.contentType)
			}
			if s.body != nil && !bytes.Equal(got.body, s.body) {
				t.Errorf("curl %s: body %q, want %q", strings.Join(s.args, " "), got.body, s.body)
			}
			if !strings.Contains(string(got.body), s.bodyHas) {
				t.Errorf("curl %s: body %q, want it to contain %q", strings.Join(s.args, " "), got.body, s.bodyHas)
			}
		})
	}
}

// TestHTTPCurlHTTPS: with --tls-cert the HTTP API is HTTPS with the service's
// certificate, which curl verifies against the CA.
func TestHTTPCurlHTTPS(t *testing.T) {
	files, err := certs.WriteLocalCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := startServer(t, server.Config{TLSCertFile: files.Cert, TLSKeyFile: files.Key, CreateCaches: []string{"c"}})
	base := "https://" + srv.HTTPAddr()
	if got := runCurl(t, "--cacert", files.CA, "-X", "PUT", "--data-binary", "secure", base+"/cache/c?key=k&ttl_seconds=60"); got.status != 204 {
		t.Fatalf("HTTPS PUT = %d %q, want 204", got.status, got.body)
	}
	if got := runCurl(t, "--cacert", files.CA, base+"/cache/c?key=k"); got.status != 200 || string(got.body) != "secure" {
		t.Errorf("HTTPS GET = %d %q, want 200 \"secure\"", got.status, got.body)
	}
	if got := runCurl(t, "--cacert", files.CA, "--http2", base+"/cache/c?key=k"); got.status != 200 {
		t.Errorf("HTTPS GET over HTTP/2 = %d %q, want 200", got.status, got.body)
	}
}
