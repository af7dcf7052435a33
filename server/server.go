// Package server is thaw's embeddable cache server: the Momento gRPC protocol
// over a store, with health checks, reflection, metrics, optional API-key
// auth, Momento's HTTP API on a port of its own and the momento-local
// test-admin port. `thaw serve` and the tests
// start it in-process.
package server

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"

	"github.com/thaw-dev/thaw/api/cachepb"
	"github.com/thaw-dev/thaw/api/controlpb"
	"github.com/thaw-dev/thaw/api/leaderboardpb"
	"github.com/thaw-dev/thaw/api/pubsubpb"
	"github.com/thaw-dev/thaw/internal/auth"
	"github.com/thaw-dev/thaw/internal/grpcsvc"
	"github.com/thaw-dev/thaw/internal/store"
	"github.com/thaw-dev/thaw/internal/store/memory"
	"github.com/thaw-dev/thaw/internal/testadmin"
)

// Defaults of Config.
const (
	// DefaultAddr is where the service listens unless told otherwise (momento-local's port).
	DefaultAddr = "127.0.0.1:8080"
	// DefaultAdminAddr is where the test-admin port listens (momento-local's port).
	DefaultAdminAddr = "127.0.0.1:9090"
	// MaxMessageSize is the least message size the transport receives. It
	// exceeds the 10,486,000 bytes the Node SDK may send and, by default, the
	// request limit (store.Limits.MaxRequestSize), so that an oversize request
	// reaches thaw and is refused with the service's "request limit" error
	// rather than by gRPC; with larger limits the transport takes twice the
	// request limit (see recvLimit). Sends are not bounded: a response holds
	// what the limits let clients store, and the client's own receive limit
	// decides.
	MaxMessageSize = 16 << 20
	// KeepaliveMinTime is the shortest interval between client pings the server
	// accepts, with or without active calls. The SDKs' Laptop and InRegion
	// configurations ping every 5 s; grpc-go's default (5 min) would answer them
	// with GOAWAY too_many_pings.
	KeepaliveMinTime = time.Second
	// DefaultRevokedKeysPoll is how often the revocation list file is
	// checked for changes.
	DefaultRevokedKeysPoll = time.Second
	// DefaultServeMaxCaches is the cache limit `thaw serve` runs with unless
	// --max-caches says otherwise: enough for test suites that create a
	// cache per test, and a bound on the registry (an empty cache costs
	// about 800 bytes). Momento's default account limit is 10 caches
	// (docs.momentohq.com, "Service limits"); --max-caches 10 reproduces
	// it. Config.MaxCaches itself defaults to no limit.
	DefaultServeMaxCaches = 10000
	// DefaultServeMaxMemory is the memory limit `thaw serve` runs with
	// unless --max-memory says otherwise. Config.MaxMemory itself defaults
	// to no limit.
	DefaultServeMaxMemory = 1 << 30
)

// ErrInsecureBind refuses to serve plaintext or unauthenticated on an
// address that other hosts can reach, unless Config.InsecureBind is set.
var ErrInsecureBind = errors.New("server: refusing an exposed listener without TLS or auth (set InsecureBind, --insecure-bind, to accept)")

// Config says how to run a Server. The zero value serves plaintext on
// DefaultAddr with an unlimited in-memory store and no auth.
type Config struct {
	// Addr is the service listen address, host:port. Default DefaultAddr;
	// port 0 picks a free port (see Server.Addr).
	Addr string
	// TLSCertFile and TLSKeyFile, both set, serve TLS instead of plaintext.
	TLSCertFile, TLSKeyFile string
	// Transport is what serves the service port's HTTP/2: TransportGRPCGo
	// (the default when empty) or TransportEpoll.
	Transport string
	// MetricsAddr, when set, serves Prometheus metrics at /metrics there.
	MetricsAddr string
	// EnableTestAdmin turns on momento-local's test hooks: the admin HTTP port
	// with /block and /unblock, and fault injection from request metadata.
	EnableTestAdmin bool
	// AdminAddr is the test-admin listen address. Default DefaultAdminAddr.
	AdminAddr string
	// HTTPAddr, when set, serves Momento's HTTP API there (see
	// internal/httpapi): item get, set and delete and topic publish over
	// plain HTTP, with TLS when TLSCertFile is set, under the same auth,
	// limits and metrics as the service port. Off when empty; port 0 picks
	// a free port (see Server.HTTPAddr).
	HTTPAddr string
	// AuthSecret, when non-empty, turns auth on: every call needs an API key
	// signed with it (see internal/auth), except health checks, reflection
	// and Ping; a method without an authorization rule is refused (see
	// grpcsvc.RuleFor), and the test-admin routes need a superuser key.
	// Empty: auth is off and an empty authorization header is accepted, as
	// momento-local does.
	AuthSecret []byte
	// RevokedKeysFile names the revocation list: key ids, one per line, that
	// are refused although their signature is good (see
	// auth.RevocationList). It is re-read when it changes (checked every
	// RevokedKeysPoll) and on ReloadRevokedKeys. A file that does not exist
	// yet is an empty list. Needs AuthSecret.
	RevokedKeysFile string
	// RevokedKeysPoll is how often RevokedKeysFile is checked for changes.
	// Default DefaultRevokedKeysPoll.
	RevokedKeysPoll time.Duration
	// InsecureBind allows the service, HTTP API or test-admin port to
	// listen on an address other hosts can reach while the service has no
	// TLS or no auth (the admin port is always plain HTTP). Without it such
	// a Start fails with ErrInsecureBind; with it, the server logs a warning
	// saying what is exposed.
	InsecureBind bool
	// Limits are the request limits, topic limits included; zero fields
	// take the defaults.
	Limits store.Limits
	// MaxMemory caps the default in-memory store, in bytes, by evicting items.
	// Zero means no cap. Ignored when Store is set.
	MaxMemory int64
	// MaxCaches bounds the number of caches of the default in-memory store:
	// a CreateCache beyond it fails with RESOURCE_EXHAUSTED, as the
	// service's per-account cache limit does, and so does Start if
	// CreateCaches asks for more. Zero (or negative) means no limit; `thaw
	// serve --max-caches` defaults to DefaultServeMaxCaches. Ignored when
	// Store is set.
	MaxCaches int
	// TopicRetention is how many of its latest items each topic of the
	// default in-memory store keeps for subscribers that resume or fall
	// behind (see memory.Config.TopicRetention). Default
	// memory.DefaultTopicRetention (1024). Ignored when Store is set.
	TopicRetention int
	// TopicHeartbeatInterval is how long a topic subscription may be idle
	// before the server sends it a heartbeat; every subscription also gets
	// one at once. Default grpcsvc.DefaultHeartbeatInterval (1 s), the
	// service's cadence; at least grpcsvc.MinHeartbeatInterval. Tests
	// shorten it.
	TopicHeartbeatInterval time.Duration
	// CreateCaches are created at start-up (existing ones are kept).
	CreateCaches []string
	// Store is the backend. Nil means a new in-memory store that the server
	// owns and closes; a given Store is left open for its owner.
	Store store.Store
	// Logger receives structured logs. Nil discards them.
	Logger *slog.Logger
}

// The service port's transports (Config.Transport).
const (
	// TransportGRPCGo is grpc-go's own server: TLS or plaintext, three
	// goroutines and about 22 KiB per connection, however idle.
	TransportGRPCGo = "grpc-go"
	// TransportEpoll is internal/grpcloop: plaintext only (Linux), one epoll
	// loop for every connection, about 2.5 KiB per idle connection.
	TransportEpoll = "epoll"
)

// Server is a running cache server. Its methods are safe for concurrent use.
type Server struct {
	cfg       Config
	logger    *slog.Logger
	store     store.Store
	ownsStore bool
	// grpc is grpc-go's server. Services are registered with it in every
	// case, for GetServiceInfo, reflection and the auth check; it serves
	// the port unless Config.Transport says otherwise.
	grpc *grpc.Server
	// transport serves the service port: grpc, or the epoll transport.
	transport transport
	health    *health.Server
	pubsub    *grpcsvc.PubsubService
	listener  net.Listener
	blockable *testadmin.BlockableListener
	admin     *http.Server
	adminLis  net.Listener
	metrics   *http.Server
	metricLis net.Listener
	// httpAPI serves the HTTP API on httpLis; nil without Config.HTTPAddr.
	httpAPI *http.Server
	httpLis net.Listener
	// tlsConfig is the service's TLS configuration, shared by the HTTP API;
	// nil when serving plaintext.
	tlsConfig *tls.Config
	// metricsRegistry holds the instruments served on MetricsAddr.
	metricsRegistry *prometheus.Registry
	// openConns counts the service port's open connections.
	openConns prometheus.Gauge
	// keys verifies API keys; nil when auth is off.
	keys *auth.Verifier
	// revoked is the revocation list; nil without RevokedKeysFile.
	revoked *auth.RevocationList
	// stopWatch ends the revocation list watcher; nil without one.
	stopWatch context.CancelFunc
	// watchDone is closed when the watcher has returned.
	watchDone chan struct{}
	// stopHealth ends the store health watcher; nil without one.
	stopHealth context.CancelFunc
	// healthDone is closed when the health watcher has returned.
	healthDone chan struct{}

	closeOnce sync.Once
	closeErr  error // guarded by closeOnce
}

// Start binds every listener that cfg asks for and serves in the background
// until Shutdown or Close. ctx bounds start-up only.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	s := &Server{cfg: cfg, logger: cfg.Logger}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	if cfg.AdminAddr == "" {
		cfg.AdminAddr = DefaultAdminAddr
	}
	if cfg.RevokedKeysPoll <= 0 {
		cfg.RevokedKeysPoll = DefaultRevokedKeysPoll
	}
	cfg.Limits = cfg.Limits.WithDefaults()
	s.cfg = cfg

	s.store = cfg.Store
	if s.store == nil {
		s.store = memory.New(memory.Config{MaxMemory: cfg.MaxMemory, MaxCaches: cfg.MaxCaches, TopicRetention: cfg.TopicRetention})
		s.ownsStore = true
	}
	if err := s.start(ctx); err != nil {
		s.abort()
		return nil, err
	}
	return s, nil
}

func (s *Server) start(ctx context.Context) error {
	cfg := s.cfg
	for _, name := range cfg.CreateCaches {
		if err := cfg.Limits.CheckCacheName(name); err != nil {
			return fmt.Errorf("server: create cache %q: %w", name, err)
		}
		if err := s.store.CreateCache(ctx, name); err != nil && !errors.Is(err, store.ErrCacheExists) {
			return fmt.Errorf("server: create cache %q: %w", name, err)
		}
	}

	if err := s.setUpKeys(); err != nil {
		return err
	}
	m := newMetrics(s.store)
	s.metricsRegistry = m.registry
	s.openConns = m.connections
	unary, stream := s.interceptors(m)
	opts, err := s.grpcOptions(unary, stream)
	if err != nil {
		return err
	}
	s.grpc = grpc.NewServer(opts...)
	reg := registrar{s.grpc, nil}
	switch cfg.Transport {
	case "", TransportGRPCGo:
		s.transport = s.grpc
	case TransportEpoll:
		if s.tlsConfig != nil {
			return fmt.Errorf("server: the %s transport serves plaintext only: serve TLS with the %s transport", TransportEpoll, TransportGRPCGo)
		}
		loop, err := newEpollTransport(cfg, unary, stream, s.openConns, s.logger)
		if err != nil {
			return err
		}
		s.transport, reg.epoll = loop, loop
	default:
		return fmt.Errorf("server: unknown transport %q (want %s or %s)", cfg.Transport, TransportGRPCGo, TransportEpoll)
	}
	cacheService := grpcsvc.NewCacheService(s.store, cfg.Limits)
	cachepb.RegisterScsServer(reg, cacheService)
	cachepb.RegisterPingServer(reg, grpcsvc.PingService{})
	controlpb.RegisterScsControlServer(reg, grpcsvc.NewControlService(s.store, cfg.Limits))
	s.pubsub = grpcsvc.NewPubsubService(s.store, cfg.Limits, grpcsvc.WithHeartbeatInterval(cfg.TopicHeartbeatInterval))
	pubsubpb.RegisterPubsubServer(reg, s.pubsub)
	leaderboardpb.RegisterLeaderboardServer(reg, grpcsvc.NewLeaderboardService(s.store, cfg.Limits))
	s.health = health.NewServer()
	healthpb.RegisterHealthServer(reg, s.health)
	reflection.Register(reg)

	var lc net.ListenConfig
	lis, err := lc.Listen(ctx, "tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("server: listen on %s: %w", cfg.Addr, err)
	}
	s.listener = lis
	if s.transport == s.grpc {
		// The epoll transport counts its connections itself.
		s.listener = countingListener{Listener: lis, gauge: s.openConns}
	}
	if err := s.checkExposure("service", lis, s.serviceExposure()); err != nil {
		return err
	}
	if cfg.EnableTestAdmin {
		s.blockable = testadmin.NewBlockableListener(s.listener)
		if c, ok := s.transport.(interface{ CloseConnections() }); ok {
			// Its connections leave the listener's hands as they are taken.
			s.blockable.OnBlock(c.CloseConnections)
		}
		s.listener = s.blockable
		if s.adminLis, err = lc.Listen(ctx, "tcp", cfg.AdminAddr); err != nil {
			return fmt.Errorf("server: listen on admin address %s: %w", cfg.AdminAddr, err)
		}
		if err := s.checkExposure("test-admin", s.adminLis, s.adminExposure()); err != nil {
			return err
		}
		var keys auth.KeyVerifier // nil, not a nil *auth.Verifier, when auth is off
		if s.keys != nil {
			keys = s.keys
		}
		s.admin = &http.Server{Handler: testadmin.Handler(s.blockable, keys), ReadHeaderTimeout: 5 * time.Second}
	}
	if cfg.MetricsAddr != "" {
		if s.metricLis, err = lc.Listen(ctx, "tcp", cfg.MetricsAddr); err != nil {
			return fmt.Errorf("server: listen on metrics address %s: %w", cfg.MetricsAddr, err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(s.metricsRegistry, promhttp.HandlerOpts{}))
		s.metrics = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	}

	if cfg.HTTPAddr != "" {
		if err := s.listenHTTPAPI(ctx, cacheService); err != nil {
			return err
		}
	}

	go s.logServeError("grpc", func() error { return s.transport.Serve(s.listener) })
	if s.httpAPI != nil {
		go s.logServeError("http api", func() error {
			if s.tlsConfig != nil {
				return s.httpAPI.ServeTLS(s.httpLis, "", "") // certificates from TLSConfig
			}
			return s.httpAPI.Serve(s.httpLis)
		})
	}
	if s.admin != nil {
		go s.logServeError("test admin", func() error { return s.admin.Serve(s.adminLis) })
	}
	if s.metrics != nil {
		go s.logServeError("metrics", func() error { return s.metrics.Serve(s.metricLis) })
	}
	if s.revoked != nil {
		s.watchRevokedKeys()
	}
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	if p, ok := s.store.(store.Pinger); ok {
		s.watchStoreHealth(p)
	}
	s.logger.Info("serving",
		"addr", s.Addr(), "transport", s.Transport(), "tls", cfg.TLSCertFile != "", "auth", len(cfg.AuthSecret) > 0, "revoked_keys", s.revokedCount(), "max_memory", cfg.MaxMemory,
		"admin_addr", s.AdminAddr(), "metrics_addr", s.MetricsAddr(), "http_addr", s.HTTPAddr(),
		"max_item_size", cfg.Limits.MaxItemSize, "max_ttl", cfg.Limits.MaxTTL,
		"topic_heartbeat_interval", s.pubsub.HeartbeatInterval(), "topic_max_subscriptions", cfg.Limits.MaxTopicSubscriptions,
		"topic_publish_rate", cfg.Limits.MaxTopicPublishRate, "topic_max_message_size", cfg.Limits.MaxTopicMessageSize)
	return nil
}

func (s *Server) grpcOptions(unary []grpc.UnaryServerInterceptor, stream []grpc.StreamServerInterceptor) ([]grpc.ServerOption, error) {
	cfg := s.cfg
	opts := []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(unary...),
		grpc.ChainStreamInterceptor(stream...),
		grpc.UnknownServiceHandler(grpcsvc.UnknownMethod),
		grpc.MaxRecvMsgSize(recvLimit(cfg.Limits)),
		grpc.MaxSendMsgSize(math.MaxInt32),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: KeepaliveMinTime, PermitWithoutStream: true}),
	}
	if cfg.TLSCertFile != "" || cfg.TLSKeyFile != "" {
		if cfg.TLSCertFile == "" || cfg.TLSKeyFile == "" {
			return nil, errors.New("server: TLS needs both a certificate and a key file")
		}
		cert, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("server: load TLS key pair: %w", err)
		}
		s.tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		opts = append(opts, grpc.Creds(credentials.NewTLS(s.tlsConfig.Clone())))
	}
	return opts, nil
}

// serves reports whether the server registered fullMethod.
func (s *Server) serves(fullMethod string) bool {
	service, method, _ := strings.Cut(strings.TrimPrefix(fullMethod, "/"), "/")
	info, ok := s.grpc.GetServiceInfo()[service]
	return ok && slices.ContainsFunc(info.Methods, func(m grpc.MethodInfo) bool { return m.Name == method })
}

// recvLimit is the largest message the transport receives under limits:
// MaxMessageSize, or twice the request limit when that is more, up to
// gRPC's default bound of 2 GiB.
func recvLimit(limits store.Limits) int {
	request := min(int64(limits.WithDefaults().MaxRequestSize), math.MaxInt32)
	return int(min(max(MaxMessageSize, 2*request), math.MaxInt32))
}

// interceptors returns the server's interceptor chains, outermost first.
// The order is the security model: metrics see every outcome (refusals and
// recovered panics included); recovery guards everything inside it; auth
// refuses a call before test-admin injection can delay or fail it, and names
// the caller whose request ids the injector counts; the request-size check
// comes after auth, so only callers with a key learn the limit.
func (s *Server) interceptors(m *metrics) ([]grpc.UnaryServerInterceptor, []grpc.StreamServerInterceptor) {
	unary := []grpc.UnaryServerInterceptor{m.unaryInterceptor(), grpcsvc.RecoveryUnaryInterceptor(s.logger)}
	stream := []grpc.StreamServerInterceptor{m.streamInterceptor(), grpcsvc.RecoveryStreamInterceptor(s.logger)}
	if s.keys != nil {
		unary = append(unary, grpcsvc.AuthUnaryInterceptor(s.keys, s.serves))
		stream = append(stream, grpcsvc.AuthStreamInterceptor(s.keys, s.serves))
	}
	unary = append(unary, grpcsvc.RequestSizeUnaryInterceptor(s.cfg.Limits))
	stream = append(stream, grpcsvc.RequestSizeStreamInterceptor(s.cfg.Limits))
	if s.cfg.EnableTestAdmin {
		inj := testadmin.NewInjector(testadmin.WithCaller(grpcsvc.CallerID))
		unary = append(unary, inj.UnaryInterceptor())
		stream = append(stream, inj.StreamInterceptor())
	}
	return unary, stream
}

// logServeError runs serve and logs how it ended, unless by a shutdown.
func (s *Server) logServeError(what string, serve func() error) {
	if err := serve(); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, grpc.ErrServerStopped) {
		s.logger.Error("listener failed", "server", what, "err", err)
	}
}

// Addr returns the service address, with the port chosen when Config.Addr had port 0.
func (s *Server) Addr() string { return addrOf(s.listener) }

// AdminAddr returns the test-admin address, or "" when test admin is off.
func (s *Server) AdminAddr() string { return addrOf(s.adminLis) }

// MetricsAddr returns the metrics address, or "" when metrics are off.
func (s *Server) MetricsAddr() string { return addrOf(s.metricLis) }

// HTTPAddr returns the HTTP API address, or "" when the HTTP API is off.
func (s *Server) HTTPAddr() string { return addrOf(s.httpLis) }

func addrOf(l net.Listener) string {
	if l == nil {
		return ""
	}
	return l.Addr().String()
}

// Services describes the gRPC services the server registered, by full
// service name, with their methods; the authorization policy must have a rule
// for each method (see grpcsvc.RuleFor).
func (s *Server) Services() map[string]grpc.ServiceInfo { return s.grpc.GetServiceInfo() }

// Transport returns what serves the service port: TransportGRPCGo or
// TransportEpoll.
func (s *Server) Transport() string { return cmp.Or(s.cfg.Transport, TransportGRPCGo) }

// Store returns the server's backend.
func (s *Server) Store() store.Store { return s.store }

// Shutdown stops accepting calls, lets in-flight calls finish and then
// releases everything. When ctx ends first, remaining calls are cancelled.
// Topic subscriptions, which never finish by themselves, end at once with
// UNAVAILABLE, which the SDKs answer by subscribing again.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closeOnce.Do(func() {
		s.stopStoreHealthWatch()
		s.health.Shutdown()
		s.pubsub.Stop()
		httpDone := s.shutdownHTTPAPI(ctx)
		done := make(chan struct{})
		go func() {
			s.transport.GracefulStop()
			close(done)
		}()
		select {
		case <-done:
		case <-ctx.Done():
			s.logger.Warn("shutdown deadline passed; cancelling in-flight calls")
			s.transport.Stop()
			<-done
		}
		<-httpDone
		s.stopRevokedKeysWatch()
		s.closeErr = s.release(ctx)
		s.logger.Info("stopped")
	})
	return s.closeErr
}

// Close stops the server at once, cancelling in-flight calls.
func (s *Server) Close() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return s.Shutdown(ctx)
}

// release closes the side servers and the owned store.
func (s *Server) release(ctx context.Context) error {
	var errs []error
	for _, hs := range []*http.Server{s.admin, s.metrics} {
		if hs == nil {
			continue
		}
		if err := hs.Shutdown(ctx); err != nil {
			hs.Close()
		}
	}
	if s.ownsStore {
		if err := s.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("server: close store: %w", err))
		}
	}
	return errors.Join(errs...)
}

// abort undoes a failed start.
func (s *Server) abort() {
	s.stopRevokedKeysWatch()
	for _, l := range []net.Listener{s.listener, s.adminLis, s.metricLis, s.httpLis} {
		if l != nil {
			l.Close()
		}
	}
	if s.ownsStore && s.store != nil {
		s.store.Close()
	}
}

// healthPollInterval is how often the health watcher pings a store that
// can become unreachable; each ping has this long to answer.
const healthPollInterval = time.Second

// watchStoreHealth polls p every healthPollInterval and sets the health
// check's overall status: NOT_SERVING while the store does not answer,
// SERVING again once it does, so that a load balancer routes around a node
// whose backend is down without the process restarting.
func (s *Server) watchStoreHealth(p store.Pinger) {
	ctx, cancel := context.WithCancel(context.Background())
	s.stopHealth, s.healthDone = cancel, make(chan struct{})
	go func() {
		defer close(s.healthDone)
		t := time.NewTicker(healthPollInterval)
		defer t.Stop()
		serving := true
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			pctx, pcancel := context.WithTimeout(ctx, healthPollInterval)
			err := p.Ping(pctx)
			pcancel()
			if ctx.Err() != nil {
				return
			}
			switch {
			case err != nil && serving:
				serving = false
				s.logger.Warn("store unreachable; health check reports NOT_SERVING", "err", err)
				s.health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
			case err == nil && !serving:
				serving = true
				s.logger.Info("store reachable again; health check reports SERVING")
				s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
			}
		}
	}()
}

// stopStoreHealthWatch stops the health watcher, if any, and waits for it.
func (s *Server) stopStoreHealthWatch() {
	if s.stopHealth != nil {
		s.stopHealth()
		<-s.healthDone
		s.stopHealth = nil
	}
}
