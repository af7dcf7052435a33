package server

import (
	"context"
	"net"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"google.golang.org/grpc"
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

// countingListener counts the connections it accepted that are still open.
// It stands where a grpc stats.Handler would: registering one makes grpc-go
// run its per-call stats path, a copy of every call's metadata included
// (about 9 % of the server's CPU under load, scripts/bench-server.sh).
type countingListener struct {
	net.Listener
	gauge prometheus.Gauge
}

// serverTCPUserTimeout is grpc-go's default server keepalive Timeout, which
// grpc-go sets as TCP_USER_TIMEOUT only on a bare *net.TCPConn; a connection
// this listener wraps gets it here instead.
const serverTCPUserTimeout = 20 * time.Second

// Accept accepts a connection and counts it until it is closed. A
// connection whose TCP_USER_TIMEOUT cannot be set is closed, as grpc-go
// closes it, and the next one accepted.
func (l countingListener) Accept() (net.Conn, error) {
	for {
		conn, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if err := setUserTimeout(conn, serverTCPUserTimeout); err != nil {
			conn.Close()
			continue
		}
		l.gauge.Inc()
		return &countedConn{Conn: conn, gauge: l.gauge, raw: newRawReader(conn)}, nil
	}
}

// countedConn takes itself off the gauge once, at its first Close. On
// Linux it also lets grpc-go read it without a buffer per connection
// (countedConn.ReadOnReady), as grpc-go reads a bare *net.TCPConn.
type countedConn struct {
	net.Conn
	gauge  prometheus.Gauge
	closed sync.Once
	// raw reads the connection's file descriptor for ReadOnReady; nil
	// where there is none, and off Linux.
	raw *rawReader
}

// Close closes the connection and counts it closed.
func (c *countedConn) Close() error {
	c.closed.Do(c.gauge.Dec)
	return c.Conn.Close()
}
