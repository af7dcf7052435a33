package netem

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// A gRPC channel whose connection a NAT forgot does not notice by itself:
// the call times out, while a new channel through the same proxy works.
func TestGRPCOverBlackholedConnection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)

	p := startProxy(t, Config{Target: ln.Addr().String(), Latency: 2 * time.Millisecond})
	newClient := func() healthpb.HealthClient {
		cc, err := grpc.NewClient("passthrough:///"+p.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatalf("grpc.NewClient: %v", err)
		}
		t.Cleanup(func() { cc.Close() })
		return healthpb.NewHealthClient(cc)
	}
	check := func(hc healthpb.HealthClient, timeout time.Duration) error {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		_, err := hc.Check(ctx, &healthpb.HealthCheckRequest{})
		return err
	}

	old := newClient()
	if err := check(old, 5*time.Second); err != nil {
		t.Fatalf("Check before the blackhole: %v", err)
	}

	p.Blackhole()
	start := time.Now()
	err = check(old, 300*time.Millisecond)
	if code := status.Code(err); code != codes.DeadlineExceeded {
		t.Errorf("Check on the blackholed connection = %v, want code %v", err, codes.DeadlineExceeded)
	}
	if elapsed := time.Since(start); elapsed < 240*time.Millisecond {
		t.Errorf("Check failed after %v, want it to run to its 300 ms deadline", elapsed)
	}

	fresh := newClient()
	if err := check(fresh, 5*time.Second); err != nil {
		t.Errorf("Check on a new channel: %v", err)
	}
	if got := connInfo(t, p, 1).State; got != StateBlackholed {
		t.Errorf("old connection state = %q, want %q", got, StateBlackholed)
	}
	if got := connInfo(t, p, 2).State; got != StateOpen {
		t.Errorf("new connection state = %q, want %q", got, StateOpen)
	}
}
