//go:build linux

// Package grpcloop serves gRPC services over plaintext HTTP/2 from one
// epoll loop, so that an idle connection holds no goroutine, no stack and
// no buffer: only its socket and its HTTP/2 state, about 2.5 KiB. grpc-go's
// server keeps three goroutines and about 22 KiB per connection, however
// idle (the README's "Idle connections"); a server facing thousands of
// mostly frozen serverless clients spends most of its memory on them.
//
// It runs the services registered with it (any grpc.ServiceDesc, as
// generated code registers them) and the interceptor chains it is given,
// with the semantics grpc-go gives them: incoming metadata, deadlines from
// grpc-timeout, peer, grpc.SetHeader/SendHeader/SetTrailer, statuses with
// details, unary, server-, client- and bidirectional streaming, message
// size limits and the keepalive enforcement policy. It does not do TLS
// (crypto/tls needs a goroutine per connection), compression or server-
// initiated keepalive pings: an accepted socket keeps the TCP keepalive Go
// gives it, and TCP_USER_TIMEOUT when configured.
//
// Reading is the loop's alone: it parses frames, answers SETTINGS and
// PINGs, and hands complete messages to the stream's handler, which runs
// in a goroutine of its own for the stream's life. Handlers write their
// frames themselves, under the connection's lock; what the socket does not
// take waits for the loop to see it writable.
package grpcloop

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
)

// Defaults of Config.
const (
	// DefaultMaxRecvMsgSize is grpc-go's default limit on a received message.
	DefaultMaxRecvMsgSize = 4 << 20
	// DefaultMaxConcurrentStreams is the streams a connection may have
	// running at once; the server announces it in its SETTINGS.
	DefaultMaxConcurrentStreams = 1000
)

// Config is what a Server runs with. The zero value serves registered
// services with no interceptors and grpc-go's defaults.
type Config struct {
	// UnaryInterceptors and StreamInterceptors run around every call,
	// outermost first, as grpc.ChainUnaryInterceptor and
	// grpc.ChainStreamInterceptor run them.
	UnaryInterceptors  []grpc.UnaryServerInterceptor
	StreamInterceptors []grpc.StreamServerInterceptor
	// UnknownStreamHandler answers calls to methods nobody registered, as
	// grpc.UnknownServiceHandler does, through the stream interceptors;
	// nil answers UNIMPLEMENTED without them.
	UnknownStreamHandler grpc.StreamHandler
	// MaxRecvMsgSize bounds a received message; 0 means
	// DefaultMaxRecvMsgSize.
	MaxRecvMsgSize int
	// MaxConcurrentStreams bounds a connection's running streams; 0 means
	// DefaultMaxConcurrentStreams.
	MaxConcurrentStreams int
	// KeepaliveMinTime is the least time between a client's pings that is
	// not a strike; after more than two strikes in a row the connection
	// ends with GOAWAY ENHANCE_YOUR_CALM "too_many_pings", as grpc-go's
	// keepalive.EnforcementPolicy ends it. Pings are allowed without calls
	// in flight. 0 allows any rate.
	KeepaliveMinTime time.Duration
	// TCPUserTimeout, when positive, is set as each accepted socket's
	// TCP_USER_TIMEOUT, so that a peer that stops acknowledging is dropped.
	TCPUserTimeout time.Duration
	// ConnOpened and ConnClosed, when set, are called as each connection is
	// taken on and once it is closed (a gauge of open connections).
	ConnOpened, ConnClosed func()
	// Logger receives what cannot be answered to a client; nil discards.
	Logger *slog.Logger
}

// ErrServerStopped is what Serve returns once the server is stopped.
var ErrServerStopped = errors.New("grpcloop: server stopped")

// Server serves the services registered with it on every listener given to
// Serve, from one epoll loop. It implements grpc.ServiceRegistrar.
type Server struct {
	cfg       Config
	unary     grpc.UnaryServerInterceptor  // the chain, nil when empty
	stream    grpc.StreamServerInterceptor // likewise
	methods   map[string]handler           // by full method name
	poll      *poller                      // nil until the first Serve
	handlers  sync.WaitGroup               // running stream handlers
	running   atomic.Int64                 // their number, for tests
	logger    *slog.Logger
	mu        sync.Mutex
	listeners map[net.Listener]bool
	conns     map[*conn]bool
	draining  bool // GracefulStop has begun
	stopped   bool // Stop has begun
}

// handler is one registered method.
type handler struct {
	impl   any
	unary  *grpc.MethodDesc // one of unary and stream is set
	stream *grpc.StreamDesc
}

// NewServer returns a server with cfg and no services.
func NewServer(cfg Config) *Server {
	if cfg.MaxRecvMsgSize <= 0 {
		cfg.MaxRecvMsgSize = DefaultMaxRecvMsgSize
	}
	if cfg.MaxConcurrentStreams <= 0 {
		cfg.MaxConcurrentStreams = DefaultMaxConcurrentStreams
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Server{
		cfg:       cfg,
		unary:     chainUnary(cfg.UnaryInterceptors),
		stream:    chainStream(cfg.StreamInterceptors),
		methods:   make(map[string]handler),
		logger:    logger,
		listeners: make(map[net.Listener]bool),
		conns:     make(map[*conn]bool),
	}
}

// RegisterService registers a service's methods, as generated Register
// functions call it. Registering after Serve, or a method twice, panics,
// as grpc.Server.RegisterService does.
func (s *Server) RegisterService(sd *grpc.ServiceDesc, impl any) {
	if s.poll != nil {
		panic("grpcloop: RegisterService after Serve")
	}
	for i := range sd.Methods {
		s.register("/"+sd.ServiceName+"/"+sd.Methods[i].MethodName, handler{impl: impl, unary: &sd.Methods[i]})
	}
	for i := range sd.Streams {
		s.register("/"+sd.ServiceName+"/"+sd.Streams[i].StreamName, handler{impl: impl, stream: &sd.Streams[i]})
	}
}

func (s *Server) register(method string, h handler) {
	if _, dup := s.methods[method]; dup {
		panic(fmt.Sprintf("grpcloop: method %s registered twice", method))
	}
	s.methods[method] = h
}

// Serve accepts connections on lis and serves them until Stop or
// GracefulStop, then returns ErrServerStopped; it returns at once with any
// other accept error. Each accepted connection must be a socket
// (syscall.Conn, as *net.TCPConn is): its descriptor moves to the loop and
// the net.Conn is closed.
func (s *Server) Serve(lis net.Listener) error {
	s.mu.Lock()
	if s.stopped || s.draining {
		s.mu.Unlock()
		lis.Close()
		return ErrServerStopped
	}
	if s.poll == nil {
		p, err := newPoller(s)
		if err != nil {
			s.mu.Unlock()
			return err
		}
		s.poll = p
	}
	s.listeners[lis] = true
	s.mu.Unlock()

	for {
		nc, err := lis.Accept()
		if err != nil {
			s.mu.Lock()
			ended := s.stopped || s.draining
			delete(s.listeners, lis)
			s.mu.Unlock()
			if loopErr := s.poll.failed(); loopErr != nil {
				return loopErr
			}
			if ended {
				return ErrServerStopped
			}
			var temporary interface{ Temporary() bool }
			if errors.As(err, &temporary) && temporary.Temporary() {
				time.Sleep(5 * time.Millisecond)
				continue
			}
			return fmt.Errorf("grpcloop: accept: %w", err)
		}
		if err := s.take(nc); err != nil && !errors.Is(err, ErrServerStopped) && !errors.Is(err, errDropped) {
			s.logger.Warn("connection refused", "remote", nc.RemoteAddr().String(), "err", err)
		}
	}
}

// take moves an accepted connection's socket to the loop.
func (s *Server) take(nc net.Conn) error {
	c, err := newConn(s, nc)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if s.stopped || s.draining {
		s.mu.Unlock()
		c.closeSocket()
		return ErrServerStopped
	}
	s.conns[c] = true
	s.mu.Unlock()
	if s.cfg.ConnOpened != nil {
		s.cfg.ConnOpened()
	}
	if err := s.poll.add(c); err != nil {
		c.close(err)
		return err
	}
	// The greeting may not have gone out whole: then the loop must watch
	// for the socket to be writable.
	c.mu.Lock()
	if len(c.pending) > 0 {
		s.poll.watchWrites(c, true)
	}
	c.mu.Unlock()
	return nil
}

// closeListeners closes every listener Serve accepts on.
func (s *Server) closeListeners() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closeListenersLocked()
}

func (s *Server) closeListenersLocked() {
	for lis := range s.listeners {
		lis.Close()
	}
}

// forget drops a closed connection from the server's set.
func (s *Server) forget(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	if s.cfg.ConnClosed != nil {
		s.cfg.ConnClosed()
	}
}

// GracefulStop stops accepting, tells every connection with GOAWAY that no
// new stream will start, waits until the streams in flight have finished,
// then stops. A Stop meanwhile cancels them and ends the wait.
func (s *Server) GracefulStop() {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	s.draining = true
	s.closeListenersLocked()
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	// Once every connection has sent its GOAWAY, none starts a handler.
	for _, c := range conns {
		c.goAway()
	}
	s.handlers.Wait()
	// The last replies may still wait for slow clients to read them.
	deadline := time.Now().Add(drainTimeout)
	for _, c := range conns {
		for c.queued() && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
	}
	s.Stop()
}

// drainTimeout bounds how long GracefulStop waits, once the calls are
// done, for clients to read their last replies.
const drainTimeout = 5 * time.Second

// Stop closes every listener and connection at once, cancelling the
// streams in flight, and waits for their handlers to return.
func (s *Server) Stop() {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		s.handlers.Wait()
		return
	}
	s.stopped = true
	s.closeListenersLocked()
	p := s.poll
	s.mu.Unlock()
	if p != nil {
		p.stop()
	}
	s.handlers.Wait()
}

// CloseConnections closes every open connection at once, cancelling its
// streams, and keeps serving new ones (momento-local's /block, with a
// listener that refuses new connections meanwhile).
func (s *Server) CloseConnections() {
	s.mu.Lock()
	p := s.poll
	s.mu.Unlock()
	if p != nil {
		p.dropAll()
	}
}

// chainUnary returns one interceptor that runs ints outermost first, or nil
// when there are none.
func chainUnary(ints []grpc.UnaryServerInterceptor) grpc.UnaryServerInterceptor {
	if len(ints) == 0 {
		return nil
	}
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, final grpc.UnaryHandler) (any, error) {
		var next func(i int) grpc.UnaryHandler
		next = func(i int) grpc.UnaryHandler {
			if i == len(ints) {
				return final
			}
			return func(ctx context.Context, req any) (any, error) { return ints[i](ctx, req, info, next(i+1)) }
		}
		return ints[0](ctx, req, info, next(1))
	}
}

// chainStream is chainUnary for streams.
func chainStream(ints []grpc.StreamServerInterceptor) grpc.StreamServerInterceptor {
	if len(ints) == 0 {
		return nil
	}
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, final grpc.StreamHandler) error {
		var next func(i int) grpc.StreamHandler
		next = func(i int) grpc.StreamHandler {
			if i == len(ints) {
				return final
			}
			return func(srv any, ss grpc.ServerStream) error { return ints[i](srv, ss, info, next(i+1)) }
		}
		return ints[0](srv, ss, info, next(1))
	}
}
