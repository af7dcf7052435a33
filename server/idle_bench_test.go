package server_test

import (
	"flag"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/thaw-dev/thaw/bench"
)

var (
	idleConns      = flag.Int("idle-conns", 1000, "BenchmarkIdleConnections: connections held")
	idleProfileDir = flag.String("idle-profile-dir", "", "BenchmarkIdleConnections: write heap.pprof and goroutine.pprof here while the connections are held")
)

// BenchmarkIdleConnections measures what an idle connection costs the
// server: it opens -idle-conns HTTP/2 connections, each making one Ping call
// as the SDKs do and then sending nothing, and reports the Go heap in use,
// the goroutine stacks and the goroutines per connection (the client side,
// a framer per connection without goroutines, is counted too; the profiles
// that -idle-profile-dir writes tell them apart). `thaw bench
// --idle-connections` measures the same from outside, as RSS.
func BenchmarkIdleConnections(b *testing.B) {
	srv := startServer(b, benchConfig())
	n := *idleConns
	for b.Loop() {
		before := idleSnapshot()
		conns := make([]net.Conn, 0, n)
		for range n {
			c, err := dialIdleConn(srv.Addr())
			if err != nil {
				b.Fatal(err)
			}
			conns = append(conns, c)
		}
		// The server's per-connection goroutines start as the connection's
		// handshake ends; wait for all of them.
		deadline := time.Now().Add(30 * time.Second)
		for runtime.NumGoroutine() < before.goroutines+2*n && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		after := idleSnapshot()
		b.ReportMetric(float64(after.heap-before.heap)/float64(n), "heap-B/conn")
		b.ReportMetric(float64(after.stack-before.stack)/float64(n), "stack-B/conn")
		b.ReportMetric(float64(after.goroutines-before.goroutines)/float64(n), "goroutines/conn")
		if *idleProfileDir != "" {
			writeProfile(b, "heap", filepath.Join(*idleProfileDir, "heap.pprof"))
			writeProfile(b, "goroutine", filepath.Join(*idleProfileDir, "goroutine.pprof"))
		}
		for _, c := range conns {
			c.Close()
		}
	}
}

type memSnapshot struct {
	heap, stack uint64
	goroutines  int
}

// idleSnapshot collects garbage and reads the heap in use, the stacks in
// use and the goroutine count.
func idleSnapshot() memSnapshot {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memSnapshot{heap: ms.HeapInuse, stack: ms.StackInuse, goroutines: runtime.NumGoroutine()}
}

func writeProfile(b *testing.B, name, path string) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup(name).WriteTo(f, 0); err != nil {
		b.Fatal(err)
	}
}

// dialIdleConn opens an HTTP/2 connection to addr, makes one
// cache_client.Ping call on it and returns it idle.
func dialIdleConn(addr string) (net.Conn, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	defer conn.SetDeadline(time.Time{})
	if _, err := bench.PingOverHTTP2(conn, addr, "http"); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}
