//go:build linux

package server

import (
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"golang.org/x/sys/unix"
)

// TestCountingListenerSetsUserTimeout: a connection the service listener
// accepts has the TCP_USER_TIMEOUT that grpc-go would have set on a bare
// TCP connection, and the open-connections gauge follows it.
func TestCountingListenerSetsUserTimeout(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gauge := prometheus.NewGauge(prometheus.GaugeOpts{Name: "open"})
	lis := countingListener{Listener: inner, gauge: gauge}
	defer lis.Close()
	client, err := net.Dial("tcp", lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	conn, err := lis.Accept()
	if err != nil {
		t.Fatal(err)
	}
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

// gaugeValue reads g.
func gaugeValue(g prometheus.Gauge) float64 {
	var m dto.Metric
	if err := g.Write(&m); err != nil {
		return -1
	}
	return m.GetGauge().GetValue()
}
