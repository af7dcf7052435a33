//go:build linux

package grpcloop_test

import (
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/thaw-dev/thaw/internal/grpcloop"
)

// serve starts a grpcloop server on 127.0.0.1:0 with the services that
// register adds, and returns a grpc-go client connection to it.
func serve(t *testing.T, cfg grpcloop.Config, register func(grpc.ServiceRegistrar)) (*grpcloop.Server, *grpc.ClientConn) {
	t.Helper()
	srv := grpcloop.NewServer(cfg)
	register(srv)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	t.Cleanup(func() {
		srv.Stop()
		select {
		case err := <-served:
			if err != grpcloop.ErrServerStopped {
				t.Errorf("Serve = %v, want ErrServerStopped", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return after Stop")
		}
	})
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return srv, conn
}

func TestUnary(t *testing.T) {
	_, conn := serve(t, grpcloop.Config{}, func(r grpc.ServiceRegistrar) { healthpb.RegisterHealthServer(r, health.NewServer()) })
	resp, err := healthpb.NewHealthClient(conn).Check(t.Context(), &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("status %v", resp.GetStatus())
	}
}
