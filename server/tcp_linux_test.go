//go:build linux

package server

import (
	"errors"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc/mem"
)

// TestCountingListenerSetsUserTimeout: a connection the service listener
// accepts has the TCP_USER_TIMEOUT that grpc-go would have set on a bare
// TCP connection, and the open-connections gauge follows it.
func TestCountingListenerSetsUserTimeout(t *testing.T) {
	gauge := prometheus.NewGauge(prometheus.GaugeOpts{Name: "open"})
	_, conn := acceptCounted(t, gauge)
	raw, err := conn.(*countedConn).Conn.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var got int
	var gerr error
	raw.Control(func(fd uintptr) { got, gerr = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT) })
	if gerr != nil || time.Duration(got)*time.Millisecond != serverTCPUserTimeout {
		t.Errorf("TCP_USER_TIMEOUT = %d ms, %v; want %v", got, gerr, serverTCPUserTimeout)
	}
	if v := gaugeValue(gauge); v != 1 {
		t.Errorf("open connections = %v after Accept; want 1", v)
	}
	conn.Close()
	conn.Close() // counted once
	if v := gaugeValue(gauge); v != 0 {
		t.Errorf("open connections = %v after Close; want 0", v)
	}
}

// acceptCounted returns both ends of a loopback connection accepted through a
// countingListener counting on gauge: the client's, closed when the test
// ends, and the accepted countedConn, which the test closes.
func acceptCounted(t *testing.T, gauge prometheus.Gauge) (client, conn net.Conn) {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lis := countingListener{Listener: inner, gauge: gauge}
	t.Cleanup(func() { lis.Close() })
	client, err = net.Dial("tcp", lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	conn, err = lis.Accept()
	if err != nil {
		t.Fatal(err)
	}
	return client, conn
}

// gaugeValue reads g.
func gaugeValue(g prometheus.Gauge) float64 {
	var m dto.Metric
	if err := g.Write(&m); err != nil {
		return -1
	}
	return m.GetGauge().GetValue()
}

// readyReader is the interface through which grpc-go's transport reads a
// connection without holding a buffer while it waits (readyreader.Reader,
// internal to grpc-go); countedConn must keep satisfying it.
type readyReader interface {
	ReadOnReady(bufSize int, pool mem.BufferPool) (*[]byte, int, error)
}

var _ readyReader = (*countedConn)(nil)

// countingPool is a mem.BufferPool that counts the buffers out.
type countingPool struct{ gets, puts atomic.Int64 }

func (p *countingPool) Get(n int) *[]byte {
	p.gets.Add(1)
	b := make([]byte, n)
	return &b
}

func (p *countingPool) Put(*[]byte) { p.puts.Add(1) }

// TestCountedConnReadOnReady: a read holds no buffer while it waits (a
// read that would block gives its buffer back at once), returns what
// arrived, and gives every buffer back at EOF.
func TestCountedConnReadOnReady(t *testing.T) {
	client, conn := acceptCounted(t, prometheus.NewGauge(prometheus.GaugeOpts{Name: "open"}))
	defer conn.Close()
	rr := conn.(readyReader)

	pool := &countingPool{}
	type result struct {
		data string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		buf, n, err := rr.ReadOnReady(64, pool)
		if err != nil {
			done <- result{err: err}
			return
		}
		data := string((*buf)[:n])
		pool.Put(buf) // before the answer, which the buffer count below follows
		done <- result{data: data}
	}()
	time.Sleep(50 * time.Millisecond) // the read is waiting, or about to
	if held := pool.gets.Load() - pool.puts.Load(); held != 0 {
		t.Errorf("buffers held before any data arrived = %d, want 0", held)
	}
	if _, err := io.WriteString(client, "hello"); err != nil {
		t.Fatal(err)
	}
	if r := <-done; r.err != nil || r.data != "hello" {
		t.Fatalf("ReadOnReady = %q, %v; want %q", r.data, r.err, "hello")
	}
	client.Close()
	if buf, n, err := rr.ReadOnReady(64, pool); !errors.Is(err, io.EOF) || buf != nil || n != 0 {
		t.Errorf("ReadOnReady after the peer closed = %v, %d, %v; want nil, 0, EOF", buf, n, err)
	}
	if gets, puts := pool.gets.Load(), pool.puts.Load(); gets != puts {
		t.Errorf("buffers taken %d, given back %d; want equal", gets, puts)
	}
}
