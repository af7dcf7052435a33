package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/thaw-dev/thaw/api/cachepb"
	"github.com/thaw-dev/thaw/bench"
	"github.com/thaw-dev/thaw/internal/apikey"
	"github.com/thaw-dev/thaw/internal/auth"
	"github.com/thaw-dev/thaw/internal/certs"
	"github.com/thaw-dev/thaw/server"
)

// startServer starts an in-process thaw server with the memory store on a
// free loopback port.
func startServer(t *testing.T, cfg server.Config) *server.Server {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	srv, err := server.Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("server.Start: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// shortConfig is a quick closed-loop run against addr.
func shortConfig(addr string) bench.Config {
	cfg := bench.DefaultConfig(addr)
	cfg.Duration = time.Second
	cfg.Warmup = 0
	cfg.Concurrency = 4
	cfg.Connections = 2
	cfg.Keys = 200
	cfg.JSON = true
	return cfg
}

// runJSON runs cfg and decodes the last line of stdout.
func runJSON(t *testing.T, cfg bench.Config) (map[string]any, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if err := bench.Run(context.Background(), cfg, &stdout, &stderr); err != nil {
		t.Fatalf("Run: %v\nstderr: %s", err, stderr.String())
	}
	return lastJSONLine(t, stdout.String()), stderr.String()
}

func lastJSONLine(t *testing.T, stdout string) map[string]any {
	t.Helper()
	lines := strings.Split(strings.TrimRight(stdout, "\n"), "\n")
	var got map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &got); err != nil {
		t.Fatalf("last line of stdout is not a JSON object: %v\nstdout: %s", err, stdout)
	}
	return got
}

// number returns the JSON number at path (keys separated by dots).
func number(t *testing.T, obj map[string]any, path string) float64 {
	t.Helper()
	var v any = obj
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("JSON %s: %v is not an object", path, v)
		}
		if v, ok = m[k]; !ok {
			t.Fatalf("JSON lacks %s", path)
		}
	}
	n, ok := v.(float64)
	if !ok {
		t.Fatalf("JSON %s = %v, want a number", path, v)
	}
	return n
}

// TestBenchClosedLoopHits: against a fresh server, a get-only mix after the
// preload hits every time; the JSON line has the contract's fields, and the
// HTML page holds its SVG plots.
func TestBenchClosedLoopHits(t *testing.T) {
	srv := startServer(t, server.Config{})
	cfg := shortConfig(srv.Addr())
	cfg.Ops, _ = bench.ParseOps("get:100")
	cfg.HTMLFile = filepath.Join(t.TempDir(), "bench.html")
	got, stderr := runJSON(t, cfg)

	for _, field := range []string{"ops_per_s", "p50_us", "p90_us", "p99_us", "p999_us", "max_us", "ops", "duration_s", "errors", "hits", "misses"} {
		number(t, got, field)
	}
	ops := number(t, got, "ops")
	if ops <= 0 || number(t, got, "ops_per_s") <= 0 {
		t.Errorf("ops = %v, ops_per_s = %v; want both positive", ops, got["ops_per_s"])
	}
	if e := number(t, got, "errors"); e != 0 {
		t.Errorf("errors = %v, want 0 (errors_by_code %v)", e, got["errors_by_code"])
	}
	if m := number(t, got, "misses"); m != 0 {
		t.Errorf("misses = %v after preloading, want 0", m)
	}
	if h := number(t, got, "per_op.get.hits"); h != ops {
		t.Errorf("per_op.get.hits = %v, want every op (%v)", h, ops)
	}
	if p50, p99 := number(t, got, "p50_us"), number(t, got, "p99_us"); p50 <= 0 || p99 < p50 {
		t.Errorf("p50_us = %v, p99_us = %v; want 0 < p50 <= p99", p50, p99)
	}
	if c, _ := got["config"].(map[string]any); c["endpoint"] != srv.Addr() || c["ops"] != "get:100" || c["cache"] != bench.DefaultCache {
		t.Errorf("config = %v, want the run's endpoint, ops and cache", c)
	}
	if !strings.Contains(stderr, "preloaded 200 items") || !strings.Contains(stderr, "p99.9") {
		t.Errorf("stderr lacks the preload note or the table:\n%s", stderr)
	}
	page, err := os.ReadFile(cfg.HTMLFile)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(page), "<svg"); n != 2 {
		t.Errorf("HTML page has %d <svg> plots, want 2 (percentiles, throughput)", n)
	}
	if !strings.Contains(string(page), ">percentile</text>") || !strings.HasSuffix(strings.TrimSpace(string(page)), "</html>") {
		t.Errorf("HTML page lacks the percentile axis or its end")
	}
}

// TestBenchMixedOps runs every op of the mix, zipfian, with the table on
// stdout: each op is counted and none fails.
func TestBenchMixedOps(t *testing.T) {
	srv := startServer(t, server.Config{})
	cfg := shortConfig(srv.Addr())
	cfg.JSON = false
	cfg.Distribution = bench.Zipfian
	cfg.Ops, _ = bench.ParseOps("get:40,set:20,delete:10,dictionary-get:20,dictionary-set:10")
	res, err := bench.RunLoad(context.Background(), cfg, nil)
	if err != nil {
		t.Fatalf("RunLoad: %v", err)
	}
	if res.Errors != 0 {
		t.Errorf("Errors = %d (%v), want 0", res.Errors, res.ErrorsByCode)
	}
	for _, name := range bench.OpNames() {
		o := res.PerOp[name]
		if o == nil || o.Ops == 0 {
			t.Errorf("PerOp[%q] = %+v, want some ops", name, o)
		}
	}
	if d := res.PerOp[bench.OpDictionaryGet]; d != nil && d.Hits == 0 {
		t.Errorf("dictionary-get hits = 0 after preloading the dictionaries")
	}
	if res.Hits+res.Misses != res.PerOp[bench.OpGet].Ops+res.PerOp[bench.OpDictionaryGet].Ops {
		t.Errorf("hits %d + misses %d != reads", res.Hits, res.Misses)
	}
}

// TestBenchOpenLoopRate: a fixed rate sends rate × duration requests, no
// more, and at the modest rate used here the server keeps up.
func TestBenchOpenLoopRate(t *testing.T) {
	srv := startServer(t, server.Config{})
	cfg := shortConfig(srv.Addr())
	cfg.Rate = 200
	cfg.Duration = 2 * time.Second
	got, _ := runJSON(t, cfg)
	if got["mode"] != "open" || number(t, got, "target_rate") != 200 {
		t.Errorf("mode = %v, target_rate = %v; want open, 200", got["mode"], got["target_rate"])
	}
	sent := number(t, got, "ops") + number(t, got, "errors")
	if want := 400.0; sent < 0.9*want || sent > want+1 {
		t.Errorf("ops + errors = %v at 200/s for 2s, want about 400 (never more)", sent)
	}
}

// TestBenchTLSAndAuth runs against a server with TLS and API keys: a v1 key
// works, its endpoint overridden; a key signed with another secret fails
// with a clear Unauthenticated error.
func TestBenchTLSAndAuth(t *testing.T) {
	tlsFiles, err := certs.WriteLocalCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	secret := bytes.Repeat([]byte("s"), 32)
	srv := startServer(t, server.Config{AuthSecret: secret, TLSCertFile: tlsFiles.Cert, TLSKeyFile: tlsFiles.Key})
	sign := func(secret []byte) string {
		signer, err := auth.NewSigner(secret)
		if err != nil {
			t.Fatal(err)
		}
		token, err := signer.Sign(auth.Claims{ID: "bench", Role: auth.RoleSuperuser})
		if err != nil {
			t.Fatal(err)
		}
		return apikey.EncodeV1("cache.example.invalid:443", token)
	}

	t.Run("good key", func(t *testing.T) {
		cfg := shortConfig(srv.Addr())
		cfg.CAFile = tlsFiles.CA
		cfg.Token, _ = bench.TokenFromAPIKey(sign(secret))
		got, _ := runJSON(t, cfg)
		if number(t, got, "ops") <= 0 || number(t, got, "errors") != 0 {
			t.Errorf("ops = %v, errors = %v (%v); want ops and no errors", got["ops"], got["errors"], got["errors_by_code"])
		}
		if c, _ := got["config"].(map[string]any); c["tls"] != true || c["auth"] != true {
			t.Errorf("config = %v, want tls and auth true", c)
		}
	})
	t.Run("wrong key", func(t *testing.T) {
		cfg := shortConfig(srv.Addr())
		cfg.CAFile = tlsFiles.CA
		cfg.Token, _ = bench.TokenFromAPIKey(sign(bytes.Repeat([]byte("x"), 32)))
		var stdout, stderr bytes.Buffer
		err := bench.Run(context.Background(), cfg, &stdout, &stderr)
		if status.Code(err) != codes.Unauthenticated || !strings.Contains(err.Error(), "--api-key") {
			t.Errorf("Run with a wrong key = %v, want Unauthenticated with a hint about --api-key", err)
		}
	})
	t.Run("idle over TLS", func(t *testing.T) {
		cfg := bench.DefaultConfig(srv.Addr())
		cfg.CAFile = tlsFiles.CA
		cfg.IdleConnections = 3
		cfg.Duration = 500 * time.Millisecond
		res, err := bench.RunIdle(context.Background(), cfg, nil)
		if err != nil {
			t.Fatalf("RunIdle over TLS: %v", err)
		}
		if res.Connected != 3 || res.Lost != 0 || !res.TLS {
			t.Errorf("Connected = %d, Lost = %d, TLS = %v; want 3, 0, true", res.Connected, res.Lost, res.TLS)
		}
	})
	t.Run("plaintext against TLS", func(t *testing.T) {
		cfg := shortConfig(srv.Addr())
		cfg.Timeout = time.Second
		err := bench.Run(context.Background(), cfg, &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil {
			t.Errorf("Run in plaintext against a TLS server = nil, want an error")
		}
	})
}

// TestBenchWithoutPreloadCountsFailures: when every request fails, the
// result still counts them by code, and Run says nothing was measured.
func TestBenchWithoutPreloadCountsFailures(t *testing.T) {
	srv := startServer(t, server.Config{AuthSecret: bytes.Repeat([]byte("s"), 32)})
	signer, err := auth.NewSigner(bytes.Repeat([]byte("s"), 32))
	if err != nil {
		t.Fatal(err)
	}
	readOnly, err := signer.Sign(auth.Claims{ID: "ro", Role: auth.RoleReadOnly})
	if err != nil {
		t.Fatal(err)
	}
	cfg := shortConfig(srv.Addr())
	cfg.Preload = false
	cfg.Ops, _ = bench.ParseOps("set")
	cfg.Token = readOnly // may neither create the cache nor write
	var stdout, stderr bytes.Buffer
	err = bench.Run(context.Background(), cfg, &stdout, &stderr)
	if !errors.Is(err, bench.ErrAllFailed) {
		t.Fatalf("Run with a read-only key and a set mix = %v, want ErrAllFailed", err)
	}
	got := lastJSONLine(t, stdout.String())
	if number(t, got, "ops") != 0 || number(t, got, "errors") == 0 {
		t.Errorf("ops = %v, errors = %v; want 0 and some", got["ops"], got["errors"])
	}
	if codes, _ := got["errors_by_code"].(map[string]any); len(codes) == 0 {
		t.Errorf("errors_by_code = %v, want the failures' status codes", got["errors_by_code"])
	}
}

// cancelOnLatency is a progress writer that ends a run once a progress line
// shows measured latencies, so that requests were counted before the end.
type cancelOnLatency struct {
	cancel context.CancelFunc
}

func (w cancelOnLatency) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte(" p50 ")) {
		w.cancel()
	}
	return len(p), nil
}

// TestBenchInterrupted: a run whose context ends early stops and still
// returns what it measured.
func TestBenchInterrupted(t *testing.T) {
	srv := startServer(t, server.Config{})
	cfg := shortConfig(srv.Addr())
	cfg.Duration = time.Minute
	cfg.Terminal = true // a progress line every half second
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	res, err := bench.RunLoad(ctx, cfg, cancelOnLatency{cancel})
	if err != nil {
		t.Fatalf("RunLoad: %v", err)
	}
	if !res.Interrupted || res.DurationS >= 60 || time.Since(start) > 50*time.Second {
		t.Errorf("Interrupted = %v, DurationS = %v after cancelling; want true and less than the minute asked for", res.Interrupted, res.DurationS)
	}
	if res.Ops == 0 || res.Errors != 0 {
		t.Errorf("Ops = %d, Errors = %d (%v); want the ops before the cancel and no errors (calls in flight finish)", res.Ops, res.Errors, res.ErrorsByCode)
	}
}

// TestBenchIdle holds idle connections to an in-process server, which is
// found as this process's listener, and pings them.
func TestBenchIdle(t *testing.T) {
	srv := startServer(t, server.Config{})
	cfg := bench.DefaultConfig(srv.Addr())
	cfg.IdleConnections = 50
	cfg.Keepalive = 1200 * time.Millisecond // above the server's 1 s minimum
	cfg.Duration = 2500 * time.Millisecond
	cfg.JSON = true
	got, stderr := runJSON(t, cfg)
	if number(t, got, "connected") != 50 || number(t, got, "lost") != 0 {
		t.Errorf("connected = %v, lost = %v (%v); want 50 and 0", got["connected"], got["lost"], got["lost_reasons"])
	}
	if number(t, got, "pings") < 50 || number(t, got, "ping_failures") != 0 {
		t.Errorf("pings = %v, ping_failures = %v; want at least one per connection and no failure", got["pings"], got["ping_failures"])
	}
	server, _ := got["server"].(map[string]any)
	if server["local"] != true || number(t, got, "server.pid") != float64(os.Getpid()) {
		t.Errorf("server = %v, want local with this process's pid %d", server, os.Getpid())
	}
	if number(t, got, "server.rss_start_bytes") <= 0 || number(t, got, "server.rss_end_bytes") <= 0 {
		t.Errorf("server RSS = %v, want positive start and end", server)
	}
	if number(t, got, "server.cpu_percent") < 0 {
		t.Errorf("server.cpu_percent = %v, want at least 0", server["cpu_percent"])
	}
	if !strings.Contains(stderr, "bench's own process") {
		t.Errorf("stderr does not say the server shares the bench's process:\n%s", stderr)
	}
}

// pingOnly is a gRPC server of cache_client.Ping alone, with grpc-go's
// default keepalive enforcement: it tolerates no pings on idle connections.
type pingOnly struct {
	cachepb.UnimplementedPingServer
}

func (pingOnly) Ping(context.Context, *cachepb.XPingRequest) (*cachepb.XPingResponse, error) {
	return &cachepb.XPingResponse{}, nil
}

// TestBenchIdleTooManyPings: a server that refuses frequent pings (grpc-go's
// default policy) ends the idle connections with GOAWAY too_many_pings, and
// the result says so.
func TestBenchIdleTooManyPings(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	cachepb.RegisterPingServer(gs, pingOnly{})
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)

	cfg := bench.DefaultConfig(lis.Addr().String())
	cfg.IdleConnections = 5
	cfg.Keepalive = 50 * time.Millisecond
	cfg.Duration = 2 * time.Second
	res, err := bench.RunIdle(context.Background(), cfg, nil)
	if err != nil {
		t.Fatalf("RunIdle: %v", err)
	}
	if res.Connected != 5 || res.Lost != 5 {
		t.Errorf("Connected = %d, Lost = %d, want 5 and 5", res.Connected, res.Lost)
	}
	for reason := range res.LostReasons {
		if !strings.Contains(reason, "too_many_pings") {
			t.Errorf("LostReasons = %v, want GOAWAY too_many_pings", res.LostReasons)
		}
	}
}

// TestBenchIdleUnreachable: when no connection can be made, RunIdle fails
// and says so.
func TestBenchIdleUnreachable(t *testing.T) {
	cfg := bench.DefaultConfig("192.0.2.1:8080") // TEST-NET-1: never local
	cfg.IdleConnections = 1
	cfg.Timeout = 200 * time.Millisecond
	_, err := bench.RunIdle(context.Background(), cfg, nil)
	if err == nil || !strings.Contains(err.Error(), "no idle connection") {
		t.Errorf("RunIdle against an unreachable address = %v, want no connection established", err)
	}
}
