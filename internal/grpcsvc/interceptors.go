package grpcsvc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/thaw-dev/thaw/internal/auth"
)

// RecoveryUnaryInterceptor turns a panic in a handler into INTERNAL and logs
// it with its stack, so one bad request never takes the server down.
func RecoveryUnaryInterceptor(logger *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
		defer func() {
			if r := recover(); r != nil {
				err = recovered(logger, info.FullMethod, r)
			}
		}()
		return handler(ctx, req)
	}
}

// RecoveryStreamInterceptor is RecoveryUnaryInterceptor for streaming RPCs.
func RecoveryStreamInterceptor(logger *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = recovered(logger, info.FullMethod, r)
			}
		}()
		return handler(srv, ss)
	}
}

func recovered(logger *slog.Logger, method string, r any) error {
	logger.Error("handler panicked", "method", method, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
	return status.Errorf(codes.Internal, "internal error in %s", method)
}

// callerKey is the context key of the authenticated caller.
type callerKey struct{}

// caller is who made a call, as the auth interceptor found out.
type caller struct {
	id     string
	claims auth.Claims
}

// CallerID returns an identifier of the key that made the call: its key id,
// or a digest of the token for keys without one. It is "" when auth is off,
// so every caller shares one identity, as with momento-local.
func CallerID(ctx context.Context) string {
	if c, ok := ctx.Value(callerKey{}).(caller); ok {
		return c.id
	}
	return ""
}

// KeyCanSee reports whether the call's key may see cache: always when auth is
// off or the key is valid for every cache, else when cache is one of its own.
// Calls that span caches (ListCaches) filter their answers with it.
func KeyCanSee(ctx context.Context, cache string) bool {
	c, ok := ctx.Value(callerKey{}).(caller)
	return !ok || len(c.claims.Caches) == 0 || slices.Contains(c.claims.Caches, cache)
}

// Served reports whether the server has a handler for a full method name.
type Served func(fullMethod string) bool

// authorize applies the policy (see RuleFor) to a call: open methods pass;
// every other needs a valid key, a rule, the rule's permission and, where the
// rule names one, the cache found where the rule says. A method the server
// does not serve (served says so) passes once the key is valid, to be
// answered UNIMPLEMENTED: only callers with a key learn what is missing.
// It returns ctx with the caller attached. req is the request, for rules
// that read the cache from the body.
func authorize(ctx context.Context, v auth.KeyVerifier, served Served, fullMethod string, req any) (context.Context, error) {
	ctx, check, err := authenticate(ctx, v, served, fullMethod)
	if err != nil || check == nil {
		return ctx, err
	}
	return ctx, check(req)
}

// authenticate is the first half of authorize: it verifies the call's key
// and returns ctx with the caller attached and the check of the rule's
// permission and scope against a request, or a nil check when the call
// needs none (open methods, and methods the server does not serve).
func authenticate(ctx context.Context, v auth.KeyVerifier, served Served, fullMethod string) (context.Context, func(req any) error, error) {
	rule, known := RuleFor(fullMethod)
	if known && rule.Open {
		return ctx, nil, nil
	}
	var token string
	if vals := metadata.ValueFromIncomingContext(ctx, "authorization"); len(vals) > 0 {
		token = auth.TokenFromHeader(vals[0])
	}
	if token == "" {
		return ctx, nil, StatusFromError(fmt.Errorf("%s: %w", fullMethod, auth.ErrMissingKey))
	}
	claims, err := v.Verify(token, time.Now())
	if err != nil {
		return ctx, nil, StatusFromError(err)
	}
	if !known && served != nil && !served(fullMethod) {
		return withCaller(ctx, token, claims), nil, nil
	}
	if !known {
		return ctx, nil, StatusFromError(fmt.Errorf("%s: %w", fullMethod, ErrNoAuthRule))
	}
	ctx = withCaller(ctx, token, claims)
	check := func(req any) error {
		return StatusFromError(checkScope(ctx, claims, rule, fullMethod, req))
	}
	return ctx, check, nil
}

// checkScope checks a rule's permission on the cache the rule names: from
// the call's header, from the request body (req nil refuses), or none.
func checkScope(ctx context.Context, claims auth.Claims, rule Rule, fullMethod string, req any) error {
	switch rule.Scope {
	case ScopeHeader:
		return claims.Authorize(rule.Action, CacheName(ctx))
	case ScopeBody:
		named, ok := req.(interface{ GetCacheName() string })
		if !ok {
			return fmt.Errorf("%s: request carries no cache name to authorize: %w", fullMethod, ErrNoAuthRule)
		}
		return claims.Authorize(rule.Action, named.GetCacheName())
	case ScopeFiltered:
		return claims.AuthorizeRole(rule.Action)
	case ScopeAccount:
		return claims.Authorize(rule.Action, "")
	}
	return fmt.Errorf("%s: rule has no scope: %w", fullMethod, ErrNoAuthRule)
}

// withCaller returns ctx with the authenticated caller attached.
func withCaller(ctx context.Context, token string, claims auth.Claims) context.Context {
	id := claims.ID
	if id == "" {
		sum := sha256.Sum256([]byte(token))
		id = "sha256:" + hex.EncodeToString(sum[:8])
	}
	return context.WithValue(ctx, callerKey{}, caller{id: id, claims: claims})
}

// AuthUnaryInterceptor rejects unary calls without a valid, sufficient key.
// served tells methods the server does not have (see authorize); nil means
// it has every method it is asked for.
func AuthUnaryInterceptor(v auth.KeyVerifier, served Served) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, err := authorize(ctx, v, served, info.FullMethod, req)
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// AuthStreamInterceptor rejects streaming calls without a valid, sufficient
// key. It also guards the server's handler for unknown methods (see
// UnknownMethod).
//
// A stream whose rule reads the cache from the body (a topic subscription)
// is checked on its request: for a server stream the interceptor receives
// the one request itself, authorizes it, and only then calls the handler,
// whose first RecvMsg gets that request; a refused request never reaches the
// handler, nor the interceptors after this one (fault injection). A client
// stream has every request it receives authorized before the handler sees
// it.
func AuthStreamInterceptor(v auth.KeyVerifier, served Served) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, check, err := authenticate(ss.Context(), v, served, info.FullMethod)
		if err != nil {
			return err
		}
		if check == nil { // open, or not served
			return handler(srv, contextStream{ServerStream: ss, ctx: ctx})
		}
		if rule, _ := RuleFor(info.FullMethod); rule.Scope != ScopeBody {
			if err := check(nil); err != nil {
				return err
			}
			return handler(srv, contextStream{ServerStream: ss, ctx: ctx})
		}
		bs := &bodyCheckedStream{ServerStream: ss, ctx: ctx, check: check}
		if !info.IsClientStream {
			req, err := newRequest(info.FullMethod)
			if err != nil {
				return StatusFromError(err)
			}
			if err := ss.RecvMsg(req); err != nil {
				return err
			}
			if err := check(req); err != nil {
				return err
			}
			bs.first = req
		}
		return handler(srv, bs)
	}
}

// newRequest returns an empty request message of a method, found by its full
// name in the registry of generated protocol types.
func newRequest(fullMethod string) (proto.Message, error) {
	service, method, _ := strings.Cut(strings.TrimPrefix(fullMethod, "/"), "/")
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(service))
	if err != nil {
		return nil, fmt.Errorf("%s: no descriptor of its service to read the request with: %w", fullMethod, ErrNoAuthRule)
	}
	sd, ok := d.(protoreflect.ServiceDescriptor)
	var md protoreflect.MethodDescriptor
	if ok {
		md = sd.Methods().ByName(protoreflect.Name(method))
	}
	if md == nil {
		return nil, fmt.Errorf("%s: no descriptor of the method to read the request with: %w", fullMethod, ErrNoAuthRule)
	}
	mt, err := protoregistry.GlobalTypes.FindMessageByName(md.Input().FullName())
	if err != nil {
		return nil, fmt.Errorf("%s: request type %s is not registered: %w", fullMethod, md.Input().FullName(), ErrNoAuthRule)
	}
	return mt.New().Interface(), nil
}

// bodyCheckedStream is a server stream whose received requests are
// authorized before the handler sees them. first, when set, is the request
// the interceptor already received and authorized.
type bodyCheckedStream struct {
	grpc.ServerStream
	ctx   context.Context
	check func(req any) error
	first proto.Message
}

func (s *bodyCheckedStream) Context() context.Context { return s.ctx }

// RecvMsg hands over the authorized first request, then receives and
// authorizes the following ones.
func (s *bodyCheckedStream) RecvMsg(m any) error {
	if first := s.first; first != nil {
		s.first = nil
		dst, ok := m.(proto.Message)
		if !ok || dst.ProtoReflect().Descriptor() != first.ProtoReflect().Descriptor() {
			return status.Errorf(codes.Internal, "request of type %T received as %T", first, m)
		}
		proto.Reset(dst)
		proto.Merge(dst, first)
		return nil
	}
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	return s.check(m)
}

// contextStream is a server stream with a replaced context.
type contextStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s contextStream) Context() context.Context { return s.ctx }

// UnknownMethod answers a call of a method the server does not serve with
// UNIMPLEMENTED. Installed with grpc.UnknownServiceHandler, it makes such
// calls pass through the stream interceptors, so that auth refuses callers
// without a key before they learn which methods exist.
func UnknownMethod(_ any, stream grpc.ServerStream) error {
	method, _ := grpc.MethodFromServerStream(stream)
	return status.Errorf(codes.Unimplemented, "unknown method %s", method)
}
