//go:build linux

package grpcloop

import (
	"testing"

	"golang.org/x/sys/unix"
)

// TestPingAllocatesNothing: the loop answers a keepalive PING that
// arrives in one read without allocating, which is what an idle
// connection costs the server over time (the README's "Idle connections").
func TestPingAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates the acknowledgement; test.sh runs this without it")
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	c := &conn{srv: NewServer(Config{}), fd: fds[0], sendWindow: defaultWindow, peerWindow: defaultWindow, peerMaxFrame: defaultMaxFrameSize}
	c.sendable.L = &c.mu
	ping := appendFrame(nil, framePing, 0, 0, []byte("12345678"))
	ack := make([]byte, 64)
	allocs := testing.AllocsPerRun(100, func() {
		if err := c.consume(ping); err != nil {
			t.Fatal(err)
		}
		if n, err := unix.Read(fds[1], ack); err != nil || n != len(ping) {
			t.Fatalf("read the acknowledgement: %d bytes, %v", n, err)
		}
	})
	if allocs != 0 {
		t.Errorf("answering a PING: %.1f allocations, want 0", allocs)
	}
}
