package server

import (
	"net"

	"google.golang.org/grpc"
)

// transport serves the service port: *grpc.Server, or the epoll transport.
type transport interface {
	Serve(net.Listener) error
	GracefulStop()
	Stop()
}

// registrar registers every service with grpc-go's server, which answers
// GetServiceInfo (for reflection and the auth check), and with the epoll
// transport when it serves the port.
type registrar struct {
	grpc  *grpc.Server
	epoll grpc.ServiceRegistrar // nil unless Config.Transport is TransportEpoll
}

// RegisterService registers sd with both servers.
func (r registrar) RegisterService(sd *grpc.ServiceDesc, impl any) {
	r.grpc.RegisterService(sd, impl)
	if r.epoll != nil {
		r.epoll.RegisterService(sd, impl)
	}
}

// GetServiceInfo returns what grpc-go's server has registered.
func (r registrar) GetServiceInfo() map[string]grpc.ServiceInfo { return r.grpc.GetServiceInfo() }
