package server

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"google.golang.org/grpc"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"

	"github.com/thaw-dev/thaw/internal/store"
)

// metrics are the server's Prometheus instruments, on a registry of its own
// so that several servers in one process (as in tests) do not collide.
type metrics struct {
	registry    *prometheus.Registry
	calls       *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	connections prometheus.Gauge
}

func newMetrics(st store.Store) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "thaw_grpc_calls_total",
			Help: "gRPC calls handled, by full method and status code.",
		}, []string{"method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "thaw_grpc_call_duration_seconds",
			Help:    "Time to handle a gRPC call, by full method.",
			Buckets: prometheus.ExponentialBuckets(0.00005, 2, 18),
		}, []string{"method"}),
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "thaw_open_connections",
			Help: "Client connections currently open on the service port.",
		}),
	}
	stat := func(pick func(store.Stats) int64) func() float64 {
		return func() float64 { return float64(pick(st.Stats())) }
	}
	m.registry.MustRegister(
		m.calls, m.latency, m.connections,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "thaw_store_items", Help: "Live items across all caches."},
			stat(func(s store.Stats) int64 { return s.Items })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "thaw_store_bytes", Help: "Bytes accounted to items."},
			stat(func(s store.Stats) int64 { return s.Bytes })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "thaw_store_evictions_total", Help: "Items evicted to stay under the memory limit."},
			stat(func(s store.Stats) int64 { return s.Evictions })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "thaw_store_expirations_total", Help: "Items removed because their TTL passed."},
			stat(func(s store.Stats) int64 { return s.Expirations })),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

func (m *metrics) observe(method string, start time.Time, err error) {
	m.calls.WithLabelValues(method, status.Code(err).String()).Inc()
	m.latency.WithLabelValues(method).Observe(time.Since(start).Seconds())
}

func (m *metrics) unaryInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		start := time.Now()
		resp, err := handler(ctx, req)
		m.observe(info.FullMethod, start, err)
		return resp, err
	}
}

func (m *metrics) streamInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		start := time.Now()
		err := handler(srv, ss)
		m.observe(info.FullMethod, start, err)
		return err
	}
}

// connectionCounter is a grpc stats.Handler that counts open connections.
type connectionCounter struct{ gauge prometheus.Gauge }

func (c connectionCounter) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context {
	return ctx
}

func (c connectionCounter) HandleRPC(context.Context, stats.RPCStats) {}

func (c connectionCounter) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	return ctx
}

func (c connectionCounter) HandleConn(_ context.Context, s stats.ConnStats) {
	switch s.(type) {
	case *stats.ConnBegin:
		c.gauge.Inc()
	case *stats.ConnEnd:
		c.gauge.Dec()
	}
}
