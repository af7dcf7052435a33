package testadmin

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Request metadata keys the Injector reads; the package doc describes them.
const (
	// KeyRequestID names the test session the counts belong to.
	KeyRequestID = "request-id"
	// KeyReturnError names the error for calls listed in KeyErrorRPCs.
	KeyReturnError = "return-error"
	// KeyErrorRPCs lists the RPCs that fail with KeyReturnError.
	KeyErrorRPCs = "error-rpcs"
	// KeyErrorCount is how many listed calls per request id fail; absent, all.
	KeyErrorCount = "error-count"
	// KeyDelayRPCs lists the RPCs delayed by KeyDelayMillis.
	KeyDelayRPCs = "delay-rpcs"
	// KeyDelayMillis is the delay in milliseconds.
	KeyDelayMillis = "delay-ms"
	// KeyDelayCount is how many listed calls per request id are delayed; absent, all.
	KeyDelayCount = "delay-count"
	// KeyStreamErrorRPCs lists the server streams cut by KeyStreamError.
	KeyStreamErrorRPCs = "stream-error-rpcs"
	// KeyStreamError names the error a listed stream ends with.
	KeyStreamError = "stream-error"
	// KeyStreamErrorMessageLimit is how many messages a listed stream
	// delivers before failing; absent, none.
	KeyStreamErrorMessageLimit = "stream-error-message-limit"
)

// Defaults for the Injector's per-request-id memory.
const (
	// DefaultMaxRequestIDs is how many request ids keep their counts; the
	// least recently used is forgotten first.
	DefaultMaxRequestIDs = 4096
	// DefaultRequestIDTTL is how long an unused request id keeps its counts.
	DefaultRequestIDTTL = 15 * time.Minute
)

var (
	errUnknownErrorName = errors.New("testadmin: unknown error name")
	errBadNumber        = errors.New("testadmin: not a non-negative integer")
	errDelayTooLong     = errors.New("testadmin: delay too long")
)

// maxDelayMillis is the longest delay-ms accepted: one day, far beyond any
// client deadline, and safely inside time.Duration.
const maxDelayMillis = 24 * 60 * 60 * 1000

// Injector turns momento-local's fault-injection metadata into delays and
// errors, through the interceptors it returns. Counts are kept per
// request-id. It is safe for concurrent use.
type Injector struct {
	cfg config

	mu       sync.Mutex               // guards sessions and recent
	sessions map[string]*list.Element // session key → element of recent
	recent   *list.List               // *session values, most recently used first
}

// session holds what one caller's request-id has been given so far.
type session struct {
	key      string // caller, NUL, request id
	errors   int    // calls failed with return-error
	delays   int    // calls delayed by delay-ms
	lastUsed time.Time
}

type config struct {
	maxRequestIDs int
	requestIDTTL  time.Duration
	now           func() time.Time
	caller        func(context.Context) string
}

func defaultConfig() config {
	return config{
		maxRequestIDs: DefaultMaxRequestIDs,
		requestIDTTL:  DefaultRequestIDTTL,
		now:           time.Now,
		caller:        func(context.Context) string { return "" },
	}
}

// Option configures an Injector.
type Option func(*config)

// WithMaxRequestIDs bounds how many request ids keep their counts. Default
// DefaultMaxRequestIDs; values below 1 keep the default.
func WithMaxRequestIDs(n int) Option {
	return func(c *config) {
		if n >= 1 {
			c.maxRequestIDs = n
		}
	}
}

// WithRequestIDTTL sets how long an unused request id keeps its counts.
// Default DefaultRequestIDTTL; values of zero or less keep the default.
func WithRequestIDTTL(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.requestIDTTL = d
		}
	}
}

// WithClock replaces time.Now for expiring request ids (tests). Delays
// always use real timers.
func WithClock(now func() time.Time) Option {
	return func(c *config) {
		if now != nil {
			c.now = now
		}
	}
}

// WithCaller names the caller of a call (the authenticated key), so that
// request ids are per caller: one caller cannot use up, or learn about,
// another's counts by reusing its request id. Default: one shared namespace,
// as momento-local has, which is right when auth is off. The interceptors
// must run after the one that authenticates the call.
func WithCaller(caller func(context.Context) string) Option {
	return func(c *config) {
		if caller != nil {
			c.caller = caller
		}
	}
}

// NewInjector returns an Injector with no request ids yet.
func NewInjector(opts ...Option) *Injector {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	return &Injector{
		cfg:      cfg,
		sessions: make(map[string]*list.Element),
		recent:   list.New(),
	}
}

// UnaryInterceptor returns the interceptor that delays and fails unary calls
// as their metadata asks.
func (in *Injector) UnaryInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		md, ok := metadata.FromIncomingContext(ctx)
		if !ok || !wantsFaults(md) {
			return handler(ctx, req)
		}
		p, err := parsePlan(md, info.FullMethod)
		if err != nil {
			return nil, err
		}
		if err := in.beforeHandler(ctx, p); err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// StreamInterceptor returns the interceptor that delays and fails streaming
// calls as their metadata asks, and cuts server streams after
// stream-error-message-limit messages.
func (in *Injector) StreamInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		md, ok := metadata.FromIncomingContext(ss.Context())
		if !ok || !wantsFaults(md) {
			return handler(srv, ss)
		}
		p, err := parsePlan(md, info.FullMethod)
		if err != nil {
			return err
		}
		if err := in.beforeHandler(ss.Context(), p); err != nil {
			return err
		}
		if p.streamErr == nil {
			return handler(srv, ss)
		}
		ctx, cancel := context.WithCancel(ss.Context())
		defer cancel()
		fs := &faultyStream{
			ServerStream: ss,
			ctx:          ctx,
			cancel:       cancel,
			limit:        int64(p.streamErr.limit),
			err:          p.streamErr.status(p.rpc),
		}
		err = handler(srv, fs)
		if fs.tripped.Load() {
			return fs.err
		}
		return err
	}
}

// beforeHandler sleeps and fails as p asks, using up the counts of the
// caller's request id.
func (in *Injector) beforeHandler(ctx context.Context, p plan) error {
	key := in.cfg.caller(ctx) + "\x00" + p.requestID
	if p.delay > 0 && (p.delayLimit < 0 || in.take(key, p.delayLimit, delaysOf)) {
		t := time.NewTimer(p.delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		}
	}
	if f := p.err; f != nil && (f.limit < 0 || in.take(key, f.limit, errorsOf)) {
		return f.status(p.rpc)
	}
	return nil
}

func delaysOf(s *session) *int { return &s.delays }
func errorsOf(s *session) *int { return &s.errors }

// take reports whether the session (caller and request id) has fewer than limit of the counter
// that field picks, and if so counts one more.
func (in *Injector) take(sessionKey string, limit int, field func(*session) *int) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	n := field(in.sessionLocked(sessionKey))
	if *n >= limit {
		return false
	}
	*n++
	return true
}

// sessionLocked returns the session of key (caller, NUL, request id),
// creating it, and forgets expired and surplus ones. The caller holds in.mu.
func (in *Injector) sessionLocked(key string) *session {
	now := in.cfg.now()
	for e := in.recent.Back(); e != nil; e = in.recent.Back() {
		s := e.Value.(*session)
		if now.Sub(s.lastUsed) < in.cfg.requestIDTTL {
			break
		}
		in.removeLocked(e)
	}
	if e, ok := in.sessions[key]; ok {
		s := e.Value.(*session)
		s.lastUsed = now
		in.recent.MoveToFront(e)
		return s
	}
	s := &session{key: key, lastUsed: now}
	in.sessions[key] = in.recent.PushFront(s)
	for in.recent.Len() > in.cfg.maxRequestIDs {
		in.removeLocked(in.recent.Back())
	}
	return s
}

// removeLocked forgets the session in e. The caller holds in.mu.
func (in *Injector) removeLocked(e *list.Element) {
	delete(in.sessions, e.Value.(*session).key)
	in.recent.Remove(e)
}

// requestIDsHeld reports how many request ids currently keep counts.
func (in *Injector) requestIDsHeld() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.sessions)
}

// fault is an error to inject: its code, the name it was asked for by, and a
// count (error-count, or the stream's message limit); -1 means no count.
type fault struct {
	code  codes.Code
	name  string
	limit int
}

func (f *fault) status(rpc string) error {
	return status.Errorf(f.code, "testadmin: injected %s for %s", f.name, rpc)
}

// plan is what the metadata asks of one call.
type plan struct {
	rpc        string
	requestID  string
	delay      time.Duration
	delayLimit int    // -1: delay every call
	err        *fault // nil: no error
	streamErr  *fault // nil: no stream error
}

// wantsFaults reports whether md lists any RPC for a fault, so calls
// without fault metadata skip parsing.
func wantsFaults(md metadata.MD) bool {
	return len(md.Get(KeyErrorRPCs)) > 0 || len(md.Get(KeyDelayRPCs)) > 0 || len(md.Get(KeyStreamErrorRPCs)) > 0
}

// parsePlan reads the fault metadata that applies to fullMethod. Headers for
// faults whose RPC list does not name the method are not parsed, so they
// cannot fail the call. Malformed values give an INVALID_ARGUMENT status.
func parsePlan(md metadata.MD, fullMethod string) (plan, error) {
	names := rpcNames(fullMethod)
	p := plan{rpc: names[0], requestID: first(md, KeyRequestID), delayLimit: -1}
	invalid := func(err error) (plan, error) {
		return plan{}, status.Error(codes.InvalidArgument, err.Error())
	}

	if listContains(first(md, KeyDelayRPCs), names) {
		ms, err := count(md, KeyDelayMillis)
		if err != nil {
			return invalid(err)
		}
		if ms > maxDelayMillis {
			return invalid(fmt.Errorf("%s %d: %w", KeyDelayMillis, ms, errDelayTooLong))
		}
		if ms > 0 {
			p.delay = time.Duration(ms) * time.Millisecond
		}
		if p.delayLimit, err = count(md, KeyDelayCount); err != nil {
			return invalid(err)
		}
	}
	if listContains(first(md, KeyErrorRPCs), names) {
		f, err := parseFault(md, KeyReturnError, KeyErrorCount, -1)
		if err != nil {
			return invalid(err)
		}
		p.err = f
	}
	if listContains(first(md, KeyStreamErrorRPCs), names) {
		f, err := parseFault(md, KeyStreamError, KeyStreamErrorMessageLimit, 0)
		if err != nil {
			return invalid(err)
		}
		p.streamErr = f
	}
	return p, nil
}

// parseFault reads an error name and its count; it returns nil when no error
// is named. A missing count becomes absent.
func parseFault(md metadata.MD, nameKey, countKey string, absent int) (*fault, error) {
	name := first(md, nameKey)
	if name == "" {
		return nil, nil
	}
	code, err := parseErrorName(name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", nameKey, err)
	}
	n, err := count(md, countKey)
	if err != nil {
		return nil, err
	}
	if n < 0 {
		n = absent
	}
	return &fault{code: code, name: strings.ToLower(name), limit: n}, nil
}

// first returns the first value of key, trimmed, or "".
func first(md metadata.MD, key string) string {
	if v := md.Get(key); len(v) > 0 {
		return strings.TrimSpace(v[0])
	}
	return ""
}

// count parses a non-negative integer header; absent or empty gives -1.
func count(md metadata.MD, key string) (int, error) {
	v := first(md, key)
	if v == "" {
		return -1, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%s %q: %w: %w", key, v, errBadNumber, err)
	}
	if n < 0 {
		return 0, fmt.Errorf("%s %q: %w", key, v, errBadNumber)
	}
	return n, nil
}

// faultyStream fails a server stream in place of its message number limit+1,
// and cancels the handler's context so a handler waiting for events returns.
type faultyStream struct {
	grpc.ServerStream
	ctx     context.Context
	cancel  context.CancelFunc
	limit   int64
	err     error
	sent    atomic.Int64
	tripped atomic.Bool
}

func (s *faultyStream) Context() context.Context { return s.ctx }

func (s *faultyStream) SendMsg(m any) error {
	if s.tripped.Load() {
		return s.err
	}
	if s.sent.Load() >= s.limit {
		s.tripped.Store(true)
		s.cancel()
		return s.err
	}
	if err := s.ServerStream.SendMsg(m); err != nil {
		return err
	}
	s.sent.Add(1)
	return nil
}
