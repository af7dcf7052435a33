// Command thaw-bench-floor runs the floor server of package bench/floor: a
// bare grpc-go Momento server (Get, Set, Ping, CreateCache; a sync.Map) that
// scripts/bench-server.sh measures beside `thaw serve` with `thaw bench`.
//
// Usage: thaw-bench-floor [--addr host:port] [--metrics-addr host:port]
//
// The first line on stdout is the bound service address, so that a script
// can start it on port 0. It runs until SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/thaw-dev/thaw/bench/floor"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("thaw-bench-floor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:0", "service `host:port`; port 0 picks a free one")
	metricsAddr := fs.String("metrics-addr", "", "serve the process's Go and process Prometheus metrics at http://`host:port`/metrics (off when empty); its address is the second stdout line")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "thaw-bench-floor: unexpected arguments %q\n", fs.Args())
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := floor.Start(ctx, *addr)
	if err != nil {
		fmt.Fprintf(stderr, "thaw-bench-floor: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, srv.Addr())

	var metrics *http.Server
	if *metricsAddr != "" {
		var lc net.ListenConfig
		lis, err := lc.Listen(ctx, "tcp", *metricsAddr)
		if err != nil {
			fmt.Fprintf(stderr, "thaw-bench-floor: metrics: %v\n", err)
			srv.Close()
			return 1
		}
		metrics = serveMetrics(lis, stderr)
		fmt.Fprintln(stdout, lis.Addr())
	}

	<-ctx.Done()
	if metrics != nil {
		metrics.Close()
	}
	if err := srv.Close(); err != nil {
		fmt.Fprintf(stderr, "thaw-bench-floor: %v\n", err)
		return 1
	}
	return 0
}

// serveMetrics serves the Go runtime's and the process's metrics (the same
// names `thaw serve --metrics-addr` exports, go_memstats_heap_inuse_bytes
// and process_resident_memory_bytes among them) on lis.
func serveMetrics(lis net.Listener, stderr io.Writer) *http.Server {
	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := hs.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(stderr, "thaw-bench-floor: metrics: %v\n", err)
		}
	}()
	return hs
}
