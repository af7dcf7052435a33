package server_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/thaw-dev/thaw/api/cachepb"
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
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		conn.Close()
		return nil, err
	}
	fr := http2.NewFramer(conn, conn)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	for _, f := range [][2]string{
		{":method", "POST"}, {":scheme", "http"}, {":path", cachepb.Ping_Ping_FullMethodName}, {":authority", addr},
		{"content-type", "application/grpc"}, {"te", "trailers"},
	} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	if err := errors.Join(
		fr.WriteSettings(),
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block.Bytes(), EndHeaders: true}),
		fr.WriteData(1, true, make([]byte, 5)), // an empty _PingRequest
	); err != nil {
		conn.Close()
		return nil, err
	}
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("read Ping reply: %w", err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				fr.WriteSettingsAck()
			}
		case *http2.MetaHeadersFrame:
			if f.StreamEnded() {
				return conn, nil
			}
		case *http2.GoAwayFrame, *http2.RSTStreamFrame:
			conn.Close()
			return nil, fmt.Errorf("Ping: %v", f)
		}
	}
}
