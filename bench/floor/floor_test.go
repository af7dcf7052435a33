package floor_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/thaw-dev/thaw/api/cachepb"
	"github.com/thaw-dev/thaw/api/controlpb"
	"github.com/thaw-dev/thaw/bench/floor"
)

// start runs a floor server on 127.0.0.1:0 for the test and returns
// generated clients connected to it.
func start(t *testing.T) (cachepb.ScsClient, controlpb.ScsControlClient, cachepb.PingClient) {
	t.Helper()
	srv, err := floor.Start(t.Context(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
	})
	conn, err := grpc.NewClient(srv.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return cachepb.NewScsClient(conn), controlpb.NewScsControlClient(conn), cachepb.NewPingClient(conn)
}

// inCache returns a context that names cache in the "cache" header, as the
// SDKs send it on every data-plane call.
func inCache(t *testing.T, cache string) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return metadata.AppendToOutgoingContext(ctx, "cache", cache)
}

func TestSetThenGet(t *testing.T) {
	scs, control, _ := start(t)
	ctx := inCache(t, "c")
	if _, err := control.CreateCache(ctx, &controlpb.XCreateCacheRequest{CacheName: proto.String("c")}); err != nil {
		t.Fatalf("CreateCache(%q) = %v", "c", err)
	}
	set, err := scs.Set(ctx, &cachepb.XSetRequest{CacheKey: []byte("k"), CacheBody: []byte("v"), TtlMilliseconds: 60_000})
	if err != nil {
		t.Fatalf("Set(%q) = %v", "k", err)
	}
	if set.GetResult() != cachepb.ECacheResult_Ok {
		t.Errorf("Set(%q) result = %v, want %v", "k", set.GetResult(), cachepb.ECacheResult_Ok)
	}

	tests := []struct {
		name       string
		key        string
		wantResult cachepb.ECacheResult
		wantBody   string
	}{
		{"hit", "k", cachepb.ECacheResult_Hit, "v"},
		{"miss", "other", cachepb.ECacheResult_Miss, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := scs.Get(ctx, &cachepb.XGetRequest{CacheKey: []byte(tt.key)})
			if err != nil {
				t.Fatalf("Get(%q) = %v", tt.key, err)
			}
			if got.GetResult() != tt.wantResult || string(got.GetCacheBody()) != tt.wantBody {
				t.Errorf("Get(%q) = %v %q, want %v %q", tt.key, got.GetResult(), got.GetCacheBody(), tt.wantResult, tt.wantBody)
			}
		})
	}
}

func TestStatusCodes(t *testing.T) {
	scs, control, ping := start(t)
	if _, err := control.CreateCache(inCache(t, "c"), &controlpb.XCreateCacheRequest{CacheName: proto.String("c")}); err != nil {
		t.Fatalf("CreateCache(%q) = %v", "c", err)
	}
	tests := []struct {
		name string
		call func() error
		want codes.Code
	}{
		{"ping", func() error {
			_, err := ping.Ping(t.Context(), &cachepb.XPingRequest{})
			return err
		}, codes.OK},
		{"create existing cache", func() error {
			_, err := control.CreateCache(inCache(t, "c"), &controlpb.XCreateCacheRequest{CacheName: proto.String("c")})
			return err
		}, codes.AlreadyExists},
		{"get from unknown cache", func() error {
			_, err := scs.Get(inCache(t, "nope"), &cachepb.XGetRequest{CacheKey: []byte("k")})
			return err
		}, codes.NotFound},
		{"set without cache header", func() error {
			_, err := scs.Set(t.Context(), &cachepb.XSetRequest{CacheKey: []byte("k"), CacheBody: []byte("v")})
			return err
		}, codes.InvalidArgument},
		{"delete is unimplemented", func() error {
			_, err := scs.Delete(inCache(t, "c"), &cachepb.XDeleteRequest{CacheKey: []byte("k")})
			return err
		}, codes.Unimplemented},
		{"list caches is unimplemented", func() error {
			_, err := control.ListCaches(inCache(t, "c"), &controlpb.XListCachesRequest{})
			return err
		}, codes.Unimplemented},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := status.Code(tt.call()); got != tt.want {
				t.Errorf("code = %v, want %v", got, tt.want)
			}
		})
	}
}
