package server_test

import (
	"context"
	"strconv"
	"testing"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"

	"github.com/thaw-dev/thaw/api/cachepb"
	"github.com/thaw-dev/thaw/server"
)

// benchConfig is the configuration `thaw serve` runs with by default, so
// that the benchmarks time the store's paths as a default server takes them
// (the memory limit's LRU upkeep and check included).
func benchConfig() server.Config {
	return server.Config{MaxMemory: server.DefaultServeMaxMemory, MaxCaches: server.DefaultServeMaxCaches}
}

// benchClient starts a server with one cache and returns a Scs client and a
// context naming that cache, as an SDK would send it.
func benchClient(b *testing.B) (cachepb.ScsClient, context.Context) {
	cfg := benchConfig()
	cfg.CreateCaches = []string{"bench"}
	srv := startServer(b, cfg)
	c := dial(b, srv.Addr())
	return c.cache, metadata.AppendToOutgoingContext(context.Background(), "cache", "bench")
}

// BenchmarkGet measures a Get hit through the whole gRPC stack on loopback:
// client marshalling, HTTP/2, interceptors, the memory store and back.
func BenchmarkGet(b *testing.B) {
	for _, size := range []int{100, 4096} {
		b.Run("value="+strconv.Itoa(size), func(b *testing.B) {
			cache, ctx := benchClient(b)
			if _, err := cache.Set(ctx, &cachepb.XSetRequest{CacheKey: []byte("k"), CacheBody: make([]byte, size), TtlMilliseconds: 3_600_000}); err != nil {
				b.Fatal(err)
			}
			req := &cachepb.XGetRequest{CacheKey: []byte("k")}
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				if _, err := cache.Get(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSet measures a Set through the whole gRPC stack on loopback:
// keys=same overwrites one key (the update path), keys=fresh writes a new
// key every time (the insert path).
func BenchmarkSet(b *testing.B) {
	for _, size := range []int{100, 4096} {
		for _, fresh := range []bool{false, true} {
			name := "value=" + strconv.Itoa(size) + "/keys=same"
			if fresh {
				name = "value=" + strconv.Itoa(size) + "/keys=fresh"
			}
			b.Run(name, func(b *testing.B) {
				cache, ctx := benchClient(b)
				req := &cachepb.XSetRequest{CacheKey: []byte("k"), CacheBody: make([]byte, size), TtlMilliseconds: 3_600_000}
				b.ReportAllocs()
				b.SetBytes(int64(size))
				i := 0
				for b.Loop() {
					if fresh {
						req.CacheKey = strconv.AppendInt(req.CacheKey[:1], int64(i), 10)
						i++
					}
					if _, err := cache.Set(ctx, req); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkGetParallel measures Get throughput with concurrent callers on one
// connection, the way an SDK multiplexes calls.
func BenchmarkGetParallel(b *testing.B) {
	cache, ctx := benchClient(b)
	for i := range 1000 {
		key := []byte("k" + strconv.Itoa(i))
		if _, err := cache.Set(ctx, &cachepb.XSetRequest{CacheKey: key, CacheBody: make([]byte, 100), TtlMilliseconds: 3_600_000}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			req := &cachepb.XGetRequest{CacheKey: []byte("k" + strconv.Itoa(i%1000))}
			if _, err := cache.Get(ctx, req); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

// BenchmarkBaselineHealthCheck is the floor the Get and Set figures compare
// against: the cheapest unary call grpc-go can make to the same server (the
// health service, which touches no store and no interceptor of thaw's but the
// chain itself), on the same kind of connection.
func BenchmarkBaselineHealthCheck(b *testing.B) {
	srv := startServer(b, benchConfig())
	c := dial(b, srv.Addr())
	health := healthpb.NewHealthClient(c.conn)
	req := &healthpb.HealthCheckRequest{}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := health.Check(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	}
}
