package grpcsvc

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
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

// Verifier checks an API key and returns its claims; *auth.Signer is one.
type Verifier interface {
	Verify(token string, now time.Time) (auth.Claims, error)
}

// MethodAction returns the permission a full gRPC method needs and whether it
// needs one at all: pings, health checks and reflection are open to anyone.
func MethodAction(fullMethod string) (auth.Action, bool) {
	service, method, _ := strings.Cut(strings.TrimPrefix(fullMethod, "/"), "/")
	switch service {
	case "cache_client.Scs":
		switch method {
		case "Get", "GetBatch", "KeysExist", "ItemGetTtl", "ItemGetType", "GetWithHash":
			return auth.ActionRead, true
		}
		return auth.ActionWrite, true
	case "control_client.ScsControl":
		return auth.ActionControl, true
	}
	return "", false
}

// authorize checks the call's authorization header against the method's
// needs. Control calls name their cache in the request body.
func authorize(ctx context.Context, v Verifier, fullMethod string, req any) error {
	action, needed := MethodAction(fullMethod)
	if !needed {
		return nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	var token string
	if vals := md.Get("authorization"); len(vals) > 0 {
		token = strings.TrimPrefix(vals[0], "Bearer ")
	}
	if token == "" {
		return StatusFromError(fmt.Errorf("%s: %w", fullMethod, auth.ErrMissingKey))
	}
	claims, err := v.Verify(token, time.Now())
	if err != nil {
		return StatusFromError(err)
	}
	cache := CacheName(ctx)
	if named, ok := req.(interface{ GetCacheName() string }); ok && action == auth.ActionControl {
		cache = named.GetCacheName()
	}
	if err := claims.Authorize(action, cache); err != nil {
		return StatusFromError(err)
	}
	return nil
}

// AuthUnaryInterceptor rejects unary calls without a valid, sufficient key.
func AuthUnaryInterceptor(v Verifier) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if err := authorize(ctx, v, info.FullMethod, req); err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// AuthStreamInterceptor rejects streaming calls without a valid, sufficient
// key. Streams are data-plane calls whose cache is in the metadata.
func AuthStreamInterceptor(v Verifier) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if err := authorize(ss.Context(), v, info.FullMethod, nil); err != nil {
			return err
		}
		return handler(srv, ss)
	}
}
