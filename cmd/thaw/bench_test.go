package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/thaw-dev/thaw/internal/apikey"
	"github.com/thaw-dev/thaw/internal/auth"
	"github.com/thaw-dev/thaw/server"
)

// TestBenchUsageErrors: bad flags are refused with exit 2 and a message
// naming the problem, before anything connects (the endpoints are never
// reachable).
func TestBenchUsageErrors(t *testing.T) {
	t.Setenv("THAW_API_KEY", "")
	t.Setenv("MOMENTO_API_KEY", "")
	cases := []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"unknown op", []string{"--endpoint", "127.0.0.1:1", "--ops", "get:80,foo:20"}, `unknown op "foo"`},
		{"bad weight", []string{"--endpoint", "127.0.0.1:1", "--ops", "get:lots"}, "weight of get"},
		{"no endpoint", nil, "--endpoint is required"},
		{"endpoint without port", []string{"--endpoint", "localhost"}, "want HOST:PORT"},
		{"negative rate", []string{"--endpoint", "127.0.0.1:1", "--rate", "-5"}, "--rate -5"},
		{"zero concurrency", []string{"--endpoint", "127.0.0.1:1", "--concurrency", "0"}, "--concurrency 0"},
		{"more connections than concurrency", []string{"--endpoint", "127.0.0.1:1", "--concurrency", "2", "--connections", "4"}, "--connections 4"},
		{"bad distribution", []string{"--endpoint", "127.0.0.1:1", "--distribution", "pareto"}, `--distribution "pareto"`},
		{"bad value size", []string{"--endpoint", "127.0.0.1:1", "--value-size", "1x"}, "value-size"},
		{"huge value size", []string{"--endpoint", "127.0.0.1:1", "--value-size", "9999999TiB"}, "too large"},
		{"zero duration", []string{"--endpoint", "127.0.0.1:1", "--duration", "0"}, "--duration 0s"},
		{"idle with rate", []string{"--endpoint", "127.0.0.1:1", "--idle-connections", "10", "--rate", "100"}, "--rate applies to the load mode"},
		{"positional argument", []string{"--endpoint", "127.0.0.1:1", "extra"}, `unexpected argument "extra"`},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"bench"}, tt.args...)
			var stdout, stderr bytes.Buffer
			if code := run(args, &stdout, &stderr); code != 2 {
				t.Errorf("run(%q) = %d, want 2\nstderr: %s", args, code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("run(%q) stderr = %q, want it to contain %q", args, stderr.String(), tt.want)
			}
		})
	}
}

// TestBenchHelp: --help exits 0 and explains every flag.
func TestBenchHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"bench", "--help"}, &stdout, &stderr); code != 0 {
		t.Fatalf("thaw bench --help = %d, want 0", code)
	}
	help := stdout.String() + stderr.String()
	for _, flag := range []string{"endpoint", "cache", "api-key", "tls", "ca-file", "insecure-skip-verify", "concurrency", "rate",
		"connections", "ops", "value-size", "keys", "distribution", "duration", "warmup", "timeout", "ttl", "preload",
		"idle-connections", "keepalive", "keepalive-timeout", "server-pid", "json", "html"} {
		if !strings.Contains(help, "  -"+flag) {
			t.Errorf("thaw bench --help lacks -%s", flag)
		}
	}
}

// TestBenchCommand runs thaw bench against an in-process server with auth,
// the API key in $THAW_API_KEY: exit 0 and a JSON last line; with a key
// signed by another secret, exit 1 and a clear message.
func TestBenchCommand(t *testing.T) {
	secret := bytes.Repeat([]byte("s"), 32)
	srv, err := server.Start(context.Background(), server.Config{Addr: "127.0.0.1:0", AuthSecret: secret})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	key := func(secret []byte) string {
		signer, err := auth.NewSigner(secret)
		if err != nil {
			t.Fatal(err)
		}
		token, err := signer.Sign(auth.Claims{ID: "b", Role: auth.RoleSuperuser})
		if err != nil {
			t.Fatal(err)
		}
		return apikey.EncodeV1("127.0.0.1:1", token) // the key's endpoint is overridden
	}
	args := []string{"bench", "--endpoint", srv.Addr(), "--duration", "1s", "--warmup", "0", "--concurrency", "2",
		"--connections", "1", "--keys", "50", "--json"}

	t.Setenv("MOMENTO_API_KEY", "")
	t.Setenv("THAW_API_KEY", key(secret))
	var stdout, stderr bytes.Buffer
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("run(%q) = %d, want 0\nstderr: %s", args, code, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var got struct {
		OpsPerS *float64 `json:"ops_per_s"`
		P50US   *float64 `json:"p50_us"`
		P99US   *float64 `json:"p99_us"`
		P999US  *float64 `json:"p999_us"`
		Errors  *int64   `json:"errors"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &got); err != nil {
		t.Fatalf("last line of stdout is not JSON: %v\n%s", err, stdout.String())
	}
	if got.OpsPerS == nil || got.P50US == nil || got.P99US == nil || got.P999US == nil || got.Errors == nil {
		t.Fatalf("JSON line %s lacks a required field", lines[len(lines)-1])
	}
	if *got.OpsPerS <= 0 || *got.Errors != 0 {
		t.Errorf("ops_per_s = %v, errors = %v; want positive and 0", *got.OpsPerS, *got.Errors)
	}

	t.Setenv("THAW_API_KEY", "")
	t.Setenv("MOMENTO_API_KEY", key(bytes.Repeat([]byte("x"), 32)))
	stdout.Reset()
	stderr.Reset()
	if code := run(args, &stdout, &stderr); code != 1 {
		t.Errorf("run(%q) with a wrong key = %d, want 1\nstderr: %s", args, code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "Unauthenticated") {
		t.Errorf("stderr = %q, want it to say Unauthenticated", stderr.String())
	}
}
