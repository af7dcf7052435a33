//go:build linux

package poller_test

import (
	"encoding/binary"
	"net"
	"os"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/thaw-dev/thaw/api/cachepb"
	"github.com/thaw-dev/thaw/bench"
	"github.com/thaw-dev/thaw/bench/floor/poller"
)

// start runs a poller on 127.0.0.1:0 for the test.
func start(t *testing.T) *poller.Server {
	t.Helper()
	srv, err := poller.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
	})
	return srv
}

// TestGRPCClient checks the poller against grpc-go's client, which sends
// its own SETTINGS, WINDOW_UPDATEs and BDP pings: Ping succeeds and any
// other method is UNIMPLEMENTED.
func TestGRPCClient(t *testing.T) {
	srv := start(t)
	conn, err := grpc.NewClient(srv.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx := t.Context()
	for i := range 3 {
		if _, err := cachepb.NewPingClient(conn).Ping(ctx, &cachepb.XPingRequest{}); err != nil {
			t.Fatalf("Ping #%d = %v", i+1, err)
		}
	}
	_, err = cachepb.NewScsClient(conn).Get(ctx, &cachepb.XGetRequest{CacheKey: []byte("k")})
	if status.Code(err) != codes.Unimplemented {
		t.Errorf("Get = %v, want code %v", err, codes.Unimplemented)
	}
}

// TestKeepalivePingsInPieces holds a connection as `thaw bench
// --idle-connections` does and sends keepalive PINGs a byte at a time, so
// that every frame arrives split over reads; each must be acknowledged
// with its own payload.
func TestKeepalivePingsInPieces(t *testing.T) {
	srv := start(t)
	conn, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	framer, err := bench.PingOverHTTP2(conn, srv.Addr(), "http")
	if err != nil {
		t.Fatal(err)
	}
	for i := range uint64(3) {
		var frame []byte
		frame = append(frame, 0, 0, 8, 0x6, 0, 0, 0, 0, 0)
		frame = binary.BigEndian.AppendUint64(frame, 1000+i)
		for _, b := range frame {
			if _, err := conn.Write([]byte{b}); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Millisecond) // one TCP segment, one read, per byte
		}
		if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
			t.Fatal(err)
		}
		f, err := framer.ReadFrame()
		if err != nil {
			t.Fatalf("PING %d: %v", i, err)
		}
		ack, ok := f.(*http2.PingFrame)
		if !ok || !ack.IsAck() || binary.BigEndian.Uint64(ack.Data[:]) != 1000+i {
			t.Fatalf("PING %d: got %v, want its acknowledgement", i, f)
		}
	}
}

// TestCloseReleasesDescriptors checks that Close closes the listener, the
// connections and the poller's own descriptors.
func TestCloseReleasesDescriptors(t *testing.T) {
	// Go's own poller opens its descriptors on first use: have that happen
	// before counting.
	warm, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	warm.Close()
	before := openFDs(t)
	srv, err := poller.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	for range 5 {
		c, err := net.Dial("tcp", srv.Addr())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bench.PingOverHTTP2(c, srv.Addr(), "http"); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	for _, c := range conns {
		if err := c.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Error("a connection is still open after Close")
		}
		c.Close()
	}
	if after := openFDs(t); after != before {
		t.Errorf("%d descriptors open after Close, %d before Start", after, before)
	}
	if _, err := net.Dial("tcp", srv.Addr()); err == nil {
		t.Error("the listener still accepts after Close")
	}
}

func openFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}
