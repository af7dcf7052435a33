package client_test

import (
	"io"
	"log/slog"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/thaw-dev/thaw/api/cachepb"
	"github.com/thaw-dev/thaw/client"
	"github.com/thaw-dev/thaw/server"
)

// BenchmarkGet compares a Get through the client with and without the
// tracer and with recovery on and off, next to the bare generated stub. The
// tracer writes Info events as text to io.Discard, as a real handler would
// (only Info and above are enabled, so per-call Debug events are skipped).
// Run: go test -run XXX -bench Get -benchmem ./client/
func BenchmarkGet(b *testing.B) {
	srv := startServer(b, server.Config{})
	seed := newClient(b, client.Laptop(), client.LocalCredentials(srv.Addr()))
	if err := seed.Set(b.Context(), "c", []byte("k"), []byte("value"), 0); err != nil {
		b.Fatal(err)
	}

	b.Run("stub", func(b *testing.B) {
		conn, err := grpc.NewClient(srv.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		stub := cachepb.NewScsClient(conn)
		ctx := metadata.AppendToOutgoingContext(b.Context(), "authorization", "", "cache", "c")
		b.ReportAllocs()
		for b.Loop() {
			if _, err := stub.Get(ctx, &cachepb.XGetRequest{CacheKey: []byte("k")}); err != nil {
				b.Fatal(err)
			}
		}
	})
	tracer := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	for _, v := range []struct {
		name     string
		recovery bool
		trace    bool
	}{
		{"recovery=off/tracer=off", false, false},
		{"recovery=on/tracer=off", true, false},
		{"recovery=off/tracer=on", false, true},
		{"recovery=on/tracer=on", true, true},
	} {
		b.Run(v.name, func(b *testing.B) {
			cfg := client.Lambda()
			cfg.Recovery = v.recovery
			var opts []client.Option
			if v.trace {
				opts = append(opts, client.WithTracer(tracer))
			}
			c := newClient(b, cfg, client.LocalCredentials(srv.Addr()), opts...)
			ctx := b.Context()
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := c.Get(ctx, "c", []byte("k")); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
