package server_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/thaw-dev/thaw/api/cachepb"
	"github.com/thaw-dev/thaw/server"
)

func adminGet(t *testing.T, srv *server.Server, path string) {
	t.Helper()
	resp, err := http.Get("http://" + srv.AdminAddr() + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %s, want 200", path, resp.Status)
	}
}

func TestTestAdminBlockAndUnblock(t *testing.T) {
	srv := startServer(t, server.Config{EnableTestAdmin: true, CreateCaches: []string{"c"}})
	c := dial(t, srv.Addr())
	get := func() error {
		ctx, cancel := context.WithTimeout(inCache(t, "c"), 2*time.Second)
		defer cancel()
		_, err := c.cache.Get(ctx, &cachepb.XGetRequest{CacheKey: []byte("k")})
		return err
	}
	if err := get(); err != nil {
		t.Fatalf("Get before /block: %v", err)
	}
	adminGet(t, srv, "/block")
	if err := get(); status.Code(err) != codes.Unavailable && status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("Get while blocked = %v, want UNAVAILABLE or DEADLINE_EXCEEDED", err)
	}
	adminGet(t, srv, "/unblock")
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := get()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Get after /unblock still fails: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestTestAdminErrorInjection(t *testing.T) {
	srv := startServer(t, server.Config{EnableTestAdmin: true, CreateCaches: []string{"c"}})
	c := dial(t, srv.Addr())
	ctx := inCache(t, "c", "request-id", "r1", "return-error", "unavailable", "error-rpcs", "get set", "error-count", "2")
	for i := range 2 {
		if _, err := c.cache.Get(ctx, &cachepb.XGetRequest{CacheKey: []byte("k")}); status.Code(err) != codes.Unavailable {
			t.Fatalf("injected Get %d = %v, want UNAVAILABLE", i, err)
		}
	}
	if _, err := c.cache.Get(ctx, &cachepb.XGetRequest{CacheKey: []byte("k")}); err != nil {
		t.Fatalf("Get after error-count injections = %v, want success", err)
	}
	if _, err := c.cache.Delete(ctx, &cachepb.XDeleteRequest{CacheKey: []byte("k")}); err != nil {
		t.Fatalf("Delete, not in error-rpcs = %v, want success", err)
	}
}

func TestTestAdminOffIgnoresInjectionMetadata(t *testing.T) {
	srv := startServer(t, server.Config{CreateCaches: []string{"c"}})
	c := dial(t, srv.Addr())
	ctx := inCache(t, "c", "request-id", "r1", "return-error", "unavailable", "error-rpcs", "get")
	if _, err := c.cache.Get(ctx, &cachepb.XGetRequest{CacheKey: []byte("k")}); err != nil {
		t.Fatalf("Get with injection metadata but test admin off = %v, want success", err)
	}
	if srv.AdminAddr() != "" {
		t.Errorf("AdminAddr = %q with test admin off, want empty", srv.AdminAddr())
	}
}

// TestGracefulShutdownFinishesInFlightCalls holds a call in the server with an
// injected delay, shuts down meanwhile, and expects the call to succeed.
func TestGracefulShutdownFinishesInFlightCalls(t *testing.T) {
	srv := startServer(t, server.Config{EnableTestAdmin: true, CreateCaches: []string{"c"}})
	c := dial(t, srv.Addr())
	ctx := inCache(t, "c", "request-id", "slow", "delay-rpcs", "get", "delay-ms", "700")
	done := make(chan error, 1)
	go func() {
		_, err := c.cache.Get(ctx, &cachepb.XGetRequest{CacheKey: []byte("k")})
		done <- err
	}()
	time.Sleep(200 * time.Millisecond) // let the call reach the server
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("in-flight Get during Shutdown = %v, want success", err)
	}
	if _, err := c.cache.Get(inCache(t, "c"), &cachepb.XGetRequest{CacheKey: []byte("k")}); status.Code(err) != codes.Unavailable {
		t.Errorf("Get after Shutdown = %v, want UNAVAILABLE", err)
	}
}
