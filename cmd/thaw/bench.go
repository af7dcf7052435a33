package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/thaw-dev/thaw/bench"
)

// runBench implements 'thaw bench': exit 0 after a run (Ctrl-C included), 1
// when it fails, 2 on bad usage.
func runBench(args []string, stdout, stderr io.Writer) int {
	fs := newCommandFlags("thaw bench", stderr,
		"Usage: thaw bench --endpoint HOST:PORT [flags]",
		"       thaw bench --endpoint HOST:PORT --idle-connections N [--keepalive 5s] [--duration D]",
		"",
		"Measures a Momento-compatible endpoint (thaw serve, momento-local, the service). The load",
		"mode creates the cache if missing, writes every key of the key space, then runs the mix",
		"closed-loop (--concurrency requests in flight) or open-loop (--rate requests per second,",
		"latency from each request's intended send time) and reports throughput and HDR latency",
		"percentiles. The idle mode holds N connections that only send keepalive pings and reports",
		"the server process's CPU and memory when it runs on this machine. Ctrl-C stops early and",
		"still prints the result.",
		"",
		"The API key comes from --api-key, else $THAW_API_KEY, else $MOMENTO_API_KEY; without one",
		"the authorization header is empty, as for momento-local.")
	cfg := bench.DefaultConfig("")
	var (
		apiKey       string
		ops          = bench.DefaultOps
		valueSize    = byteSize(bench.DefaultValueSize)
		distribution = string(bench.Uniform)
	)
	fs.StringVar(&cfg.Endpoint, "endpoint", "", "the server's `HOST:PORT` (required, unless the API key is a v1 key naming one)")
	fs.StringVar(&cfg.Cache, "cache", cfg.Cache, "the cache `name` to use, created if missing")
	fs.StringVar(&apiKey, "api-key", "", "API `key`: a v1 key as 'thaw token create' prints, or a JWT (default $THAW_API_KEY, else $MOMENTO_API_KEY)")
	fs.BoolVar(&cfg.TLS, "tls", false, "connect with TLS (plaintext otherwise)")
	fs.StringVar(&cfg.CAFile, "ca-file", "", "trust the CA certificates in this PEM `file` for TLS (implies --tls)")
	fs.BoolVar(&cfg.InsecureSkipVerify, "insecure-skip-verify", false, "accept any server certificate (implies --tls)")
	fs.IntVar(&cfg.Concurrency, "concurrency", cfg.Concurrency, "requests in flight at most: one per worker; in closed loop each sends its next request when the last returns")
	fs.Float64Var(&cfg.Rate, "rate", 0, "open loop: send requests at this `rate` per second in all, on a fixed schedule, and measure latency from each intended send time (0: closed loop)")
	fs.IntVar(&cfg.Connections, "connections", cfg.Connections, "gRPC connections carrying the load, at most --concurrency")
	fs.StringVar(&ops, "ops", ops, "workload `mix`: op:weight pairs from "+strings.Join(bench.OpNames(), ", "))
	fs.Var(&valueSize, "value-size", "`size` of every value written, such as 100, 1KiB or 64KB")
	fs.IntVar(&cfg.Keys, "keys", cfg.Keys, fmt.Sprintf("key space: items 0 to N-1, 1 to %d", bench.MaxKeys))
	fs.StringVar(&distribution, "distribution", distribution, "how keys are drawn: uniform, or zipfian (YCSB's skew 0.99: a few hot keys)")
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "how long to measure (both modes)")
	fs.DurationVar(&cfg.Warmup, "warmup", cfg.Warmup, "run the load this long, unmeasured, before measuring (0: none)")
	fs.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "deadline of each request, and of connecting")
	fs.DurationVar(&cfg.TTL, "ttl", cfg.TTL, "TTL of the items written, at least --warmup plus --duration when preloading")
	fs.BoolVar(&cfg.Preload, "preload", cfg.Preload, "before the run, write every key of the key space (every dictionary, for dictionary ops) so that reads hit; --preload=false skips it")
	fs.IntVar(&cfg.IdleConnections, "idle-connections", 0, "idle mode: hold `N` connections that only send keepalive pings for --duration")
	fs.DurationVar(&cfg.Keepalive, "keepalive", cfg.Keepalive, "idle mode: HTTP/2 PING interval of each connection, as the SDKs' keepalive (0: no pings)")
	fs.DurationVar(&cfg.KeepaliveTimeout, "keepalive-timeout", cfg.KeepaliveTimeout, "idle mode: a ping not acknowledged this soon loses its connection")
	fs.IntVar(&cfg.ServerPID, "server-pid", 0, "idle mode: the server's process `id`; by default the local process listening on the endpoint's port")
	fs.BoolVar(&cfg.JSON, "json", false, "print the result as one JSON object, the last line of stdout (the table goes to stderr)")
	fs.StringVar(&cfg.HTMLFile, "html", "", "write an HTML page with latency by percentile and throughput over time to this `file`")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	cfg.ValueSize = int(min(int64(valueSize), bench.MaxValueSize+1))
	cfg.Distribution = bench.Distribution(strings.ToLower(distribution))
	var err error
	if cfg.Ops, err = bench.ParseOps(ops); err != nil {
		return benchUsageError(stderr, err)
	}
	if apiKey == "" {
		apiKey = cmp.Or(os.Getenv("THAW_API_KEY"), os.Getenv("MOMENTO_API_KEY"))
	}
	var keyEndpoint string
	cfg.Token, keyEndpoint = bench.TokenFromAPIKey(strings.TrimSpace(apiKey))
	if cfg.Endpoint == "" {
		cfg.Endpoint = keyEndpoint
	}
	cfg.Terminal = isTerminal(stderr)
	if err := cfg.Validate(); err != nil {
		return benchUsageError(stderr, err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := bench.Run(ctx, cfg, stdout, stderr); err != nil {
		if errors.Is(err, bench.ErrUsage) {
			return benchUsageError(stderr, err)
		}
		fmt.Fprintf(stderr, "thaw bench: %v\n", strings.TrimPrefix(err.Error(), "bench: "))
		return 1
	}
	return 0
}

// benchUsageError reports a bad command line and returns exit code 2.
func benchUsageError(stderr io.Writer, err error) int {
	msg := strings.TrimPrefix(err.Error(), bench.ErrUsage.Error()+": ")
	fmt.Fprintf(stderr, "thaw bench: %s\nRun 'thaw bench --help' for the flags.\n", msg)
	return 2
}
