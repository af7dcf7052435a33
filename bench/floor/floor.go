// Package floor is the floor of thaw's serving stack: a bare grpc-go server
// that speaks just enough of the Momento protocol for `thaw bench` (Get, Set,
// Ping and CreateCache) from a sync.Map, with no interceptors, no auth, no
// limits and no TTLs. Measured beside `thaw serve` with the same client, it
// shows what gRPC itself costs on this machine, so that thaw's own overhead
// is the difference (scripts/bench-server.sh).
package floor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"

	"github.com/thaw-dev/thaw/api/cachepb"
	"github.com/thaw-dev/thaw/api/controlpb"
)

// Server is a running floor server: its listener, its gRPC server and its
// caches.
type Server struct {
	lis  net.Listener
	grpc *grpc.Server
	done chan struct{} // closed when Serve has returned
	err  error         // what Serve returned; read after done is closed

	// caches maps a cache name to its items, a *sync.Map of string(key) to
	// the value's bytes.
	caches sync.Map
}

// Start listens on addr (host:port; port 0 picks a free one), registers the
// data-plane Scs, Ping and control-plane ScsControl services and serves them
// until Close. Every RPC but Get, Set, Ping and CreateCache answers
// UNIMPLEMENTED.
func Start(ctx context.Context, addr string) (*Server, error) {
	var lc net.ListenConfig
	lis, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("floor: listen on %s: %w", addr, err)
	}
	s := &Server{
		lis: lis,
		// Only the keepalive policy the SDKs need (pings every 5 s, also
		// without calls) is set: it costs nothing per call, and without it
		// grpc-go would close an SDK's connection with too_many_pings.
		grpc: grpc.NewServer(grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
			MinTime:             5 * time.Second,
			PermitWithoutStream: true,
		})),
		done: make(chan struct{}),
	}
	cachepb.RegisterScsServer(s.grpc, cacheService{s: s})
	cachepb.RegisterPingServer(s.grpc, pingService{})
	controlpb.RegisterScsControlServer(s.grpc, controlService{s: s})
	go func() {
		defer close(s.done)
		if err := s.grpc.Serve(lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			s.err = fmt.Errorf("floor: serve: %w", err)
		}
	}()
	return s, nil
}

// Addr returns the address the server listens on, with the port chosen
// when Start was given port 0.
func (s *Server) Addr() string { return s.lis.Addr().String() }

// Close stops the server at once, cancelling calls in flight, and returns
// the error serving ended with, if any.
func (s *Server) Close() error {
	s.grpc.Stop()
	<-s.done
	return s.err
}

// items returns the items of the cache name, or false when no such cache
// was created.
func (s *Server) items(name string) (*sync.Map, bool) {
	v, ok := s.caches.Load(name)
	if !ok {
		return nil, false
	}
	return v.(*sync.Map), true
}
