package lambda

import (
	"net"
	"net/netip"
	"testing"
	"time"
)

// loopbackPair returns both ends of a loopback TCP connection: the runtime's
// (the dialler) and the runtime API's; the test closes them.
func loopbackPair(t testing.TB) (runtime, api net.Conn) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	runtime, err = net.Dial("tcp", lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { runtime.Close() })
	api, err = lis.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { api.Close() })
	return runtime, api
}

// TestWaitReceived writes to one end of a loopback connection whose other
// end reads nothing, as a frozen runtime, and checks that the kernel's queues
// say so.
func TestWaitReceived(t *testing.T) {
	runtime, api := loopbackPair(t)
	const answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"
	if _, err := api.Write([]byte(answer)); err != nil {
		t.Fatal(err)
	}
	if err := waitReceived(runtime.LocalAddr().String(), api.LocalAddr().String(), time.Now().Add(10*time.Second)); err != nil {
		t.Fatalf("waitReceived: %v", err)
	}
	queued, _, err := tcpQueues(netip.MustParseAddrPort(runtime.LocalAddr().String()), netip.MustParseAddrPort(api.LocalAddr().String()))
	if err != nil {
		t.Fatalf("tcpQueues: %v", err)
	}
	if queued != uint32(len(answer)) {
		t.Errorf("runtime's receive queue = %d bytes, want %d", queued, len(answer))
	}
	if _, _, err := tcpQueues(netip.MustParseAddrPort(runtime.LocalAddr().String()), netip.MustParseAddrPort("127.0.0.1:1")); err == nil {
		t.Errorf("tcpQueues of a connection that does not exist: no error")
	}
}

// BenchmarkWaitReceived measures the check an event-first hand-over makes
// before each thaw, on a connection whose answer has arrived.
func BenchmarkWaitReceived(b *testing.B) {
	runtime, api := loopbackPair(b)
	if _, err := api.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")); err != nil {
		b.Fatal(err)
	}
	runtimeAddr, apiAddr := runtime.LocalAddr().String(), api.LocalAddr().String()
	for b.Loop() {
		if err := waitReceived(runtimeAddr, apiAddr, time.Now().Add(10*time.Second)); err != nil {
			b.Fatal(err)
		}
	}
}

// tcpQueues is one sock_diag lookup (see sockDiag.queues) on a socket of
// its own.
func tcpQueues(local, remote netip.AddrPort) (received, unacked uint32, err error) {
	diag, err := openSockDiag()
	if err != nil {
		return 0, 0, err
	}
	defer diag.close()
	return diag.queues(local, remote)
}
