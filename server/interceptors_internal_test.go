package server

import (
	"context"
	"log/slog"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/thaw-dev/thaw/internal/store/memory"
)

// TestMetricsCountPanics runs a panicking handler through the server's own
// interceptor chain: the call ends INTERNAL and the metrics count it, because
// metrics sit outside recovery.
func TestMetricsCountPanics(t *testing.T) {
	st := memory.New(memory.Config{})
	t.Cleanup(func() { st.Close() })
	s := &Server{cfg: Config{EnableTestAdmin: true}, logger: slog.New(slog.DiscardHandler), store: st}
	m := newMetrics(st)
	unary, stream := s.interceptors(m)

	const method = "/cache_client.Scs/Get"
	handler := grpc.UnaryHandler(func(context.Context, any) (any, error) { panic("boom") })
	for i := len(unary) - 1; i >= 0; i-- {
		interceptor, next := unary[i], handler
		handler = func(ctx context.Context, req any) (any, error) {
			return interceptor(ctx, req, &grpc.UnaryServerInfo{FullMethod: method}, next)
		}
	}
	if _, err := handler(context.Background(), nil); status.Code(err) != codes.Internal {
		t.Fatalf("panicking unary call = %v, want INTERNAL", err)
	}
	if got := counterValue(t, m.calls.WithLabelValues(method, codes.Internal.String())); got != 1 {
		t.Errorf("calls_total{method=%q,code=Internal} = %v, want 1", method, got)
	}

	const streamMethod = "/cache_client.Scs/GetBatch"
	streamHandler := grpc.StreamHandler(func(any, grpc.ServerStream) error { panic("bang") })
	for i := len(stream) - 1; i >= 0; i-- {
		interceptor, next := stream[i], streamHandler
		streamHandler = func(srv any, ss grpc.ServerStream) error {
			return interceptor(srv, ss, &grpc.StreamServerInfo{FullMethod: streamMethod, IsServerStream: true}, next)
		}
	}
	if err := streamHandler(nil, nil); status.Code(err) != codes.Internal {
		t.Fatalf("panicking stream call = %v, want INTERNAL", err)
	}
	if got := counterValue(t, m.calls.WithLabelValues(streamMethod, codes.Internal.String())); got != 1 {
		t.Errorf("calls_total{method=%q,code=Internal} = %v, want 1", streamMethod, got)
	}
}

// counterValue reads a counter's current value.
func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var out dto.Metric
	if err := c.Write(&out); err != nil {
		t.Fatalf("read counter: %v", err)
	}
	return out.GetCounter().GetValue()
}
