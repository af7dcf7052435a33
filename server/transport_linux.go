package server

import (
	"errors"
	"log/slog"
	"net"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"

	"github.com/thaw-dev/thaw/internal/grpcloop"
	"github.com/thaw-dev/thaw/internal/grpcsvc"
)

// epollTransport is internal/grpcloop configured as grpcOptions configures
// grpc-go: the same interceptors, unknown-method handler, message limit
// and keepalive policy.
type epollTransport struct{ *grpcloop.Server }

func newEpollTransport(cfg Config, unary []grpc.UnaryServerInterceptor, stream []grpc.StreamServerInterceptor, conns prometheus.Gauge, logger *slog.Logger) (*epollTransport, error) {
	return &epollTransport{grpcloop.NewServer(grpcloop.Config{
		UnaryInterceptors:    unary,
		StreamInterceptors:   stream,
		UnknownStreamHandler: grpcsvc.UnknownMethod,
		MaxRecvMsgSize:       recvLimit(cfg.Limits),
		KeepaliveMinTime:     KeepaliveMinTime,
		TCPUserTimeout:       serverTCPUserTimeout,
		ConnOpened:           conns.Inc,
		ConnClosed:           conns.Dec,
		Logger:               logger,
	})}, nil
}

// Serve serves lis, ending as grpc.Server.Serve ends once stopped.
func (t *epollTransport) Serve(lis net.Listener) error {
	err := t.Server.Serve(lis)
	if errors.Is(err, grpcloop.ErrServerStopped) {
		return grpc.ErrServerStopped
	}
	return err
}
