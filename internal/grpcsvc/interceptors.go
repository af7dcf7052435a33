package grpcsvc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

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

// Verifier checks an API key and returns its claims; *auth.Verifier and
// *auth.Signer are two.
type Verifier interface {
	Verify(token string, now time.Time) (auth.Claims, error)
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
// It returns ctx with the caller attached. req is nil for streams, whose
// cache is in the header.
func authorize(ctx context.Context, v Verifier, served Served, fullMethod string, req any) (context.Context, error) {
	rule, known := RuleFor(fullMethod)
	if known && rule.Open {
		return ctx, nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	var token string
	if vals := md.Get("authorization"); len(vals) > 0 {
		token = auth.TokenFromHeader(vals[0])
	}
	if token == "" {
		return ctx, StatusFromError(fmt.Errorf("%s: %w", fullMethod, auth.ErrMissingKey))
	}
	claims, err := v.Verify(token, time.Now())
	if err != nil {
		return ctx, StatusFromError(err)
	}
	if !known && served != nil && !served(fullMethod) {
		return withCaller(ctx, token, claims), nil
	}
	if !known {
		return ctx, StatusFromError(fmt.Errorf("%s: %w", fullMethod, ErrNoAuthRule))
	}
	switch rule.Scope {
	case ScopeHeader:
		err = claims.Authorize(rule.Action, CacheName(ctx))
	case ScopeBody:
		named, ok := req.(interface{ GetCacheName() string })
		if !ok {
			return ctx, StatusFromError(fmt.Errorf("%s: request carries no cache name to authorize: %w", fullMethod, ErrNoAuthRule))
		}
		err = claims.Authorize(rule.Action, named.GetCacheName())
	case ScopeFiltered:
		err = claims.AuthorizeRole(rule.Action)
	case ScopeAccount:
		err = claims.Authorize(rule.Action, "")
	default:
		err = fmt.Errorf("%s: rule has no scope: %w", fullMethod, ErrNoAuthRule)
	}
	if err != nil {
		return ctx, StatusFromError(err)
	}
	return withCaller(ctx, token, claims), nil
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
func AuthUnaryInterceptor(v Verifier, served Served) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, err := authorize(ctx, v, served, info.FullMethod, req)
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// AuthStreamInterceptor rejects streaming calls without a valid, sufficient
// key. Streams are data-plane calls whose cache is in the metadata. It also
// guards the server's handler for unknown methods (see UnknownMethod).
func AuthStreamInterceptor(v Verifier, served Served) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, err := authorize(ss.Context(), v, served, info.FullMethod, nil)
		if err != nil {
			return err
		}
		return handler(srv, contextStream{ServerStream: ss, ctx: ctx})
	}
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
