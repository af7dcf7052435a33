package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/thaw-dev/thaw/api/cachepb"
	"github.com/thaw-dev/thaw/internal/apikey"
	"github.com/thaw-dev/thaw/internal/auth"
)

// TestServeRefusesInsecureBind: a service port on every interface, in
// plaintext and without auth, does not start without --insecure-bind, and
// the message says what would be exposed and how to accept it.
func TestServeRefusesInsecureBind(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"serve", "--addr", "0.0.0.0:0"}, &stdout, &stderr)
	if code != 1 {
		t.Fatalf("thaw serve --addr 0.0.0.0:0 = exit %d, want 1; stderr %q", code, stderr.String())
	}
	for _, want := range []string{"reachable from other hosts", "without TLS", "without auth", "--insecure-bind"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("thaw serve --addr 0.0.0.0:0: stderr %q lacks %q", stderr.String(), want)
		}
	}
}

// TestServeHelpMaxCaches: --help shows --max-caches with its default and
// the status a refused CreateCache gets.
func TestServeHelpMaxCaches(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"serve", "--help"}, &stdout, &stderr); code != 0 {
		t.Fatalf("thaw serve --help = exit %d, want 0; stderr %q", code, stderr.String())
	}
	_, after, found := strings.Cut(stderr.String(), "-max-caches n\n")
	usage, _, _ := strings.Cut(after, "\n  -")
	if !found || !strings.Contains(usage, "RESOURCE_EXHAUSTED") || !strings.Contains(usage, "(default 10000)") {
		t.Errorf("thaw serve --help: want -max-caches n with its usage and (default 10000); got %q", stderr.String())
	}
}

// TestServeRevokedKeysNeedAuth: a revocation list without auth is a usage error.
func TestServeRevokedKeysNeedAuth(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"serve", "--addr", "127.0.0.1:0", "--revoked-keys", filepath.Join(t.TempDir(), "r")}, &stdout, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), "--revoked-keys needs --auth-secret-file") {
		t.Errorf("thaw serve --revoked-keys without auth = exit %d, stderr %q; want 2 and the reason", code, stderr.String())
	}
}

// TestServeReloadsRevokedKeysOnSIGHUP runs the thaw binary with a revocation
// list, then lists a key in a way the file watcher cannot see (same size,
// time and inode) and sends SIGHUP: the key is refused from then on.
func TestServeReloadsRevokedKeysOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "thaw")
	goBuild(t, bin, ".")
	secretFile, _ := writeTokenSecret(t)
	code, stdout, stderr := runTokenCmd(t, "create", "--secret-file", secretFile, "--role", "readonly", "--endpoint", "127.0.0.1:1")
	if code != 0 {
		t.Fatalf("thaw token create: exit %d, stderr %q", code, stderr)
	}
	_, token, err := apikey.DecodeV1(strings.TrimSpace(stdout))
	if err != nil {
		t.Fatal(err)
	}
	id, err := auth.KeyID(token)
	if err != nil {
		t.Fatal(err)
	}
	list := filepath.Join(dir, "revoked")
	placeholder := strings.Repeat("0", len(id))
	if err := os.WriteFile(list, []byte(placeholder+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	ready := filepath.Join(dir, "ready.json")
	p := startThawProcess(t, bin, "serve", "--addr", "127.0.0.1:0", "--auth-secret-file", secretFile,
		"--revoked-keys", list, "--create-cache", "c", "--ready-file", ready)
	addr := p.waitReady(t, ready)
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	get := func() codes.Code {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ctx = metadata.AppendToOutgoingContext(ctx, "cache", "c", "authorization", token)
		_, err := cachepb.NewScsClient(conn).Get(ctx, &cachepb.XGetRequest{CacheKey: []byte("k")})
		return status.Code(err)
	}
	if got := get(); got != codes.OK {
		t.Fatalf("Get with a fresh key = %v, want OK", got)
	}

	info, err := os.Stat(list)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(list, []byte(id+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(list, info.ModTime(), info.ModTime()); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatalf("SIGHUP: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for get() != codes.Unauthenticated {
		if time.Now().After(deadline) {
			t.Fatal("key still accepted 10 s after it was listed and SIGHUP sent")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestGoMemoryLimit checks the formula that turns --max-memory into Go's
// memory limit: max-memory×5/4 + 64 MiB, saturating at "no limit".
func TestGoMemoryLimit(t *testing.T) {
	tests := []struct {
		name      string
		maxMemory int64
		want      int64
	}{
		{"64MiB", 64 << 20, 144 << 20},
		{"1GiB", 1 << 30, 1<<30 + 256<<20 + 64<<20},
		{"1 byte", 1, 1 + 64<<20},
		{"largest flag value", 8589934591 << 30, math.MaxInt64},
		{"MaxInt64", math.MaxInt64, math.MaxInt64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := goMemoryLimit(tt.maxMemory); got != tt.want {
				t.Errorf("goMemoryLimit(%d) = %d, want %d", tt.maxMemory, got, tt.want)
			}
		})
	}
}

// TestServeMemoryLimit runs the thaw binary and reads the Go memory limit
// it runs with from its metrics (go_gc_gomemlimit_bytes): set from a small
// --max-memory, left to $GOMEMLIMIT when that is set, and left alone
// without --max-memory; and the log says which.
func TestServeMemoryLimit(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "thaw")
	goBuild(t, bin, ".")
	tests := []struct {
		name       string
		gomemlimit string
		maxMemory  string
		want       float64
		log        string
	}{
		{"from --max-memory", "", "64MiB", 144 << 20, `msg="Go memory limit set from --max-memory" limit_bytes=150994944 max_memory=67108864`},
		{"$GOMEMLIMIT wins", "300MiB", "64MiB", 300 << 20, `msg="Go memory limit from $GOMEMLIMIT, not --max-memory" GOMEMLIMIT=300MiB limit_bytes=314572800`},
		{"no --max-memory", "", "0", math.MaxInt64, ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("GOMEMLIMIT", tt.gomemlimit)
			ready := filepath.Join(dir, "ready"+strconv.Itoa(i)+".json")
			p := startThawProcess(t, bin, "serve", "--addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0",
				"--max-memory", tt.maxMemory, "--ready-file", ready)
			p.waitReady(t, ready)
			data, err := os.ReadFile(ready)
			if err != nil {
				t.Fatal(err)
			}
			var info readyInfo
			if err := json.Unmarshal(data, &info); err != nil {
				t.Fatal(err)
			}
			if got := scrapeGauge(t, "http://"+info.MetricsAddr+"/metrics", "go_gc_gomemlimit_bytes"); got != tt.want {
				t.Errorf("thaw serve --max-memory %s with GOMEMLIMIT=%q: go_gc_gomemlimit_bytes = %g, want %g", tt.maxMemory, tt.gomemlimit, got, tt.want)
			}
			if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			select {
			case <-p.exited:
			case <-time.After(15 * time.Second):
				t.Fatal("thaw serve did not exit 15 s after SIGTERM")
			}
			logged := p.stderr.String()
			if tt.log != "" && !strings.Contains(logged, tt.log) {
				t.Errorf("thaw serve --max-memory %s with GOMEMLIMIT=%q: log lacks %q:\n%s", tt.maxMemory, tt.gomemlimit, tt.log, logged)
			}
			if tt.log == "" && strings.Contains(logged, "Go memory limit") {
				t.Errorf("thaw serve --max-memory %s: log mentions a Go memory limit, want none:\n%s", tt.maxMemory, logged)
			}
		})
	}
}

// scrapeGauge returns the value of the unlabelled metric name at url.
func scrapeGauge(t *testing.T, url, name string) float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(body)) {
		if value, ok := strings.CutPrefix(strings.TrimSpace(line), name+" "); ok {
			v, err := strconv.ParseFloat(value, 64)
			if err != nil {
				t.Fatalf("%s: %s = %q: %v", url, name, value, err)
			}
			return v
		}
	}
	t.Fatalf("%s: no metric %s in:\n%s", url, name, body)
	return 0
}
