//go:build !linux

package server

import (
	"errors"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
)

// epollTransport does not exist off Linux; newEpollTransport says so.
type epollTransport struct{ transport }

func newEpollTransport(Config, []grpc.UnaryServerInterceptor, []grpc.StreamServerInterceptor, prometheus.Gauge, *slog.Logger) (*epollTransport, error) {
	return nil, errors.New("server: the " + TransportEpoll + " transport needs Linux (epoll)")
}

// RegisterService is never called: newEpollTransport fails.
func (*epollTransport) RegisterService(*grpc.ServiceDesc, any) {}
