package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeHelpNamesHTTPAddr: --help documents --http-addr, and
// --insecure-bind says it covers that port too.
func TestServeHelpNamesHTTPAddr(t *testing.T) {
	var stdout, stderr bytes.Buffer
	run([]string{"serve", "--help"}, &stdout, &stderr)
	help := stdout.String() + stderr.String()
	for _, want := range []string{"-http-addr host:port", "Momento's HTTP API", "--addr, --http-addr or --admin-addr", `"http_addr"`} {
		if !strings.Contains(help, want) {
			t.Errorf("thaw serve --help lacks %q", want)
		}
	}
}

// TestServeRefusesExposedHTTPAddr: an HTTP API port on every interface, in
// plaintext and without auth, does not start without --insecure-bind.
func TestServeRefusesExposedHTTPAddr(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"serve", "--addr", "127.0.0.1:0", "--http-addr", "0.0.0.0:0"}, &stdout, &stderr)
	if code != 1 {
		t.Fatalf("thaw serve --http-addr 0.0.0.0:0 = exit %d, want 1; stderr %q", code, stderr.String())
	}
	for _, want := range []string{"HTTP API port", "without TLS", "without auth", "--insecure-bind"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("thaw serve --http-addr 0.0.0.0:0: stderr %q lacks %q", stderr.String(), want)
		}
	}
}

// TestServeHTTPAddr runs the thaw binary with --http-addr on port 0: the
// ready file names the bound address, and the HTTP API answers there.
func TestServeHTTPAddr(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "thaw")
	goBuild(t, bin, ".")
	ready := filepath.Join(dir, "ready.json")
	p := startThawProcess(t, bin, "serve", "--addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0",
		"--create-cache", "c", "--ready-file", ready)
	p.waitReady(t, ready)
	data, err := os.ReadFile(ready)
	if err != nil {
		t.Fatal(err)
	}
	var info readyInfo
	if err := json.Unmarshal(data, &info); err != nil || info.HTTPAddr == "" || strings.HasSuffix(info.HTTPAddr, ":0") {
		t.Fatalf("ready file %s = %q (%v), want a bound http_addr", ready, data, err)
	}
	base := "http://" + info.HTTPAddr + "/cache/c?key=k"
	req, _ := http.NewRequest("PUT", base+"&ttl_seconds=60", strings.NewReader("v"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("PUT = %d, want 204", resp.StatusCode)
	}
	resp, err = http.Get(base)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "v" {
		t.Errorf("GET = %d %q, want 200 \"v\"", resp.StatusCode, body)
	}
}
