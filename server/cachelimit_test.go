package server_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/thaw-dev/thaw/api/controlpb"
	"github.com/thaw-dev/thaw/internal/store"
	"github.com/thaw-dev/thaw/server"
)

// TestCacheLimit: with MaxCaches, a CreateCache beyond the limit is
// RESOURCE_EXHAUSTED, as on the service, and deleting a cache makes room.
func TestCacheLimit(t *testing.T) {
	srv := startServer(t, server.Config{MaxCaches: 2, CreateCaches: []string{"a"}})
	c := dial(t, srv.Addr())
	ctx := context.Background()
	create := func(name string) error {
		_, err := c.control.CreateCache(ctx, &controlpb.XCreateCacheRequest{CacheName: proto.String(name)})
		return err
	}
	if err := create("b"); err != nil {
		t.Fatalf("CreateCache(b) with 1 of 2 caches = %v, want OK", err)
	}
	if err := create("c"); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("CreateCache(c) with 2 of 2 caches = %v, want RESOURCE_EXHAUSTED", err)
	}
	if err := create("a"); status.Code(err) != codes.AlreadyExists {
		t.Errorf("CreateCache(a) with 2 of 2 caches = %v, want ALREADY_EXISTS", err)
	}
	if _, err := c.control.DeleteCache(ctx, &controlpb.XDeleteCacheRequest{CacheName: proto.String("a")}); err != nil {
		t.Fatalf("DeleteCache(a) = %v, want OK", err)
	}
	if err := create("c"); err != nil {
		t.Fatalf("CreateCache(c) after a delete = %v, want OK", err)
	}
	resp, err := c.control.ListCaches(ctx, &controlpb.XListCachesRequest{})
	if err != nil {
		t.Fatalf("ListCaches = %v, want OK", err)
	}
	var names []string
	for _, cache := range resp.GetCache() {
		names = append(names, cache.GetCacheName())
	}
	if want := []string{"b", "c"}; !slices.Equal(names, want) {
		t.Errorf("ListCaches = %q, want %q", names, want)
	}
}

// TestCacheLimitAtStart: start-up caches beyond MaxCaches fail Start.
func TestCacheLimitAtStart(t *testing.T) {
	srv, err := server.Start(context.Background(), server.Config{Addr: "127.0.0.1:0", MaxCaches: 1, CreateCaches: []string{"a", "b"}})
	if err == nil {
		srv.Close()
		t.Fatal("Start with 2 start-up caches and MaxCaches 1 = nil error, want one")
	}
	if !errors.Is(err, store.ErrCacheLimit) {
		t.Errorf("Start with 2 start-up caches and MaxCaches 1 = %v, want an error matching %v", err, store.ErrCacheLimit)
	}
}
