package testadmin

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/thaw-dev/thaw/api/cachepb"
)

// acceptAll serves lis in the background, handing every accepted connection
// to the returned channel; it stops when lis is closed.
func acceptAll(t *testing.T, lis net.Listener) <-chan net.Conn {
	t.Helper()
	conns := make(chan net.Conn, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(conns)
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			conns <- c
		}
	}()
	t.Cleanup(func() {
		lis.Close()
		<-done
		for c := range conns {
			c.Close()
		}
	})
	return conns
}

func dial(t *testing.T, addr net.Addr) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr.String(), 5*time.Second)
	if err != nil {
		t.Fatalf("Dial(%s): %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// readClosed reports whether the peer closed c within a generous time.
func readClosed(t *testing.T, c net.Conn) bool {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	return err != nil
}

func TestBlockableListenerTCP(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("net.Listen: %v", err)
	}
	lis := NewBlockableListener(raw)
	accepted := acceptAll(t, lis)

	before := dial(t, lis.Addr())
	server := <-accepted
	if got := lis.OpenConns(); got != 1 {
		t.Errorf("OpenConns() = %d, want 1", got)
	}

	lis.Block()
	if !lis.Blocked() {
		t.Errorf("Blocked() = false after Block")
	}
	if !readClosed(t, before) {
		t.Errorf("connection open before Block was not closed")
	}
	if got := lis.OpenConns(); got != 0 {
		t.Errorf("OpenConns() = %d after Block, want 0", got)
	}
	if _, err := server.Write([]byte("x")); err == nil {
		t.Errorf("Write on the server side of a blocked connection succeeded")
	}

	during := dial(t, lis.Addr())
	if !readClosed(t, during) {
		t.Errorf("connection made while blocked was not closed")
	}

	lis.Unblock()
	if lis.Blocked() {
		t.Errorf("Blocked() = true after Unblock")
	}
	after := dial(t, lis.Addr())
	var server2 net.Conn
	select {
	case server2 = <-accepted:
	case <-time.After(5 * time.Second):
		t.Fatalf("connection made after Unblock was not accepted")
	}
	if _, err := after.Write([]byte("ping")); err != nil {
		t.Fatalf("Write after Unblock: %v", err)
	}
	buf := make([]byte, 4)
	server2.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(server2, buf); err != nil || string(buf) != "ping" {
		t.Errorf("server read = %q, %v; want %q", buf, err, "ping")
	}

	server2.Close()
	if got := lis.OpenConns(); got != 0 {
		t.Errorf("OpenConns() = %d after the connection closed, want 0", got)
	}
}

func TestBlockableListenerCloseEndsAccept(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("net.Listen: %v", err)
	}
	lis := NewBlockableListener(raw)
	lis.Block()
	errc := make(chan error, 1)
	go func() {
		_, err := lis.Accept()
		errc <- err
	}()
	lis.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("Accept after Close = %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("Accept did not return after Close")
	}
}

// TestBlockGRPC is the SDK tests' scenario: an established client's next call
// fails with UNAVAILABLE while blocked, a live stream breaks, and after
// Unblock the client reconnects by itself.
func TestBlockGRPC(t *testing.T) {
	env := startEnv(t, NewInjector())
	ctx := withMD(t)

	if _, err := env.client.Get(ctx, &cachepb.XGetRequest{CacheKey: []byte("k")}); err != nil {
		t.Fatalf("Get before Block: %v", err)
	}
	sub := env.subscribe(ctx, t)
	if err := sub.RecvMsg(new(wrapperspb.Int64Value)); err != nil {
		t.Fatalf("first Subscribe message: %v", err)
	}

	env.lis.Block()
	t.Cleanup(env.lis.Unblock)

	// The open stream breaks; drain what was in flight.
	var streamErr error
	for streamErr == nil {
		streamErr = sub.RecvMsg(new(wrapperspb.Int64Value))
	}
	if got := status.Code(streamErr); got != codes.Unavailable {
		t.Errorf("Subscribe after Block: %v, want code %v", streamErr, codes.Unavailable)
	}
	_, err := env.client.Get(ctx, &cachepb.XGetRequest{CacheKey: []byte("k")})
	if got := status.Code(err); got != codes.Unavailable {
		t.Errorf("Get after Block = %v, want code %v", err, codes.Unavailable)
	}
	// Calls keep failing while blocked, however often the client redials.
	for i := 0; i < 3; i++ {
		_, err := env.client.Get(ctx, &cachepb.XGetRequest{CacheKey: []byte("k")})
		if got := status.Code(err); got != codes.Unavailable {
			t.Errorf("Get %d while blocked = %v, want code %v", i, err, codes.Unavailable)
		}
	}

	env.lis.Unblock()
	waitCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := env.client.Get(waitCtx, &cachepb.XGetRequest{CacheKey: []byte("k")}, grpc.WaitForReady(true)); err != nil {
		t.Fatalf("Get after Unblock: %v", err)
	}
	if _, err := env.client.Get(ctx, &cachepb.XGetRequest{CacheKey: []byte("k")}); err != nil {
		t.Errorf("second Get after Unblock: %v", err)
	}
}
