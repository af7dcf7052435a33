package client_test

import (
	"context"
	"testing"
	"time"

	"github.com/thaw-dev/thaw/client"
	"github.com/thaw-dev/thaw/server"
)

// TestTraceConnectionEnds checks the tracer's account of connections that
// the other side ends: a reset, and a graceful server shutdown with GOAWAY.
func TestTraceConnectionEnds(t *testing.T) {
	t.Parallel()
	srv, err := server.Start(context.Background(), server.Config{Addr: "127.0.0.1:0", CreateCaches: []string{"c"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	proxy := startProxy(t, srv.Addr())
	trace := &traceLog{}
	c := newClient(t, client.Lambda(), client.LocalCredentials(proxy.Addr()), client.WithTracer(trace.logger()))
	if err := c.Set(t.Context(), "c", []byte("k"), []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	for _, ev := range []string{client.EventDial, client.EventConnected} {
		if got := trace.events(ev, time.Time{}); len(got) != 1 || got[0].attrs["conn"] != "1" || got[0].attrs["channel"] != "1" {
			t.Errorf("%q events = %v; want one for conn 1 on channel 1", ev, got)
		}
	}

	dropped := time.Now()
	proxy.Drop()
	closed, ok := trace.waitFor(t, client.EventClosed, dropped, 5*time.Second, nil)
	if reason := closed.attrs["reason"]; !ok || (reason != "error" && reason != "eof") || closed.attrs["conn"] != "1" {
		t.Fatalf("after a reset: closed = %v; want conn 1 ended by the peer (error or eof):%s", closed, trace.dump())
	}
	t.Logf("reset seen as: closed (reason %s, err %q)", closed.attrs["reason"], closed.attrs["err"])

	// grpc-go reconnects; a graceful shutdown then sends GOAWAY and the
	// server closes its side.
	if _, _, err := c.Get(t.Context(), "c", []byte("k")); err != nil {
		t.Fatalf("Get after the reset: %v", err)
	}
	stopping := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	goAway, ok := trace.waitFor(t, client.EventGoAwayReceived, stopping, 5*time.Second, nil)
	if !ok || goAway.attrs["code"] != "NO_ERROR" || goAway.attrs["conn"] != "2" {
		t.Fatalf("after a graceful shutdown: goaway received = %v; want NO_ERROR on conn 2:%s", goAway, trace.dump())
	}
	if closed, ok := trace.waitFor(t, client.EventClosed, stopping, 5*time.Second, nil); !ok || closed.attrs["conn"] != "2" {
		t.Fatalf("after a graceful shutdown: closed = %v; want conn 2 closed:%s", closed, trace.dump())
	} else {
		t.Logf("graceful shutdown seen as: goaway received (%s, last stream %s, debug %q), then closed (%s)",
			goAway.attrs["code"], goAway.attrs["last_stream_id"], goAway.attrs["debug"], closed.attrs["reason"])
	}
}
