package grpcsvc

import (
	"context"
	"errors"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/thaw-dev/thaw/internal/auth"
	"github.com/thaw-dev/thaw/internal/store"
)

// errorMapping ties a domain sentinel to the status code the Momento SDKs
// expect for it and, where the SDKs read one, the "err" trailer naming the cause.
type errorMapping struct {
	sentinel error
	code     codes.Code
	cause    string
}

// errorMappings is the one table from domain errors to gRPC statuses.
var errorMappings = []errorMapping{
	{store.ErrCacheNotFound, codes.NotFound, ""},
	{store.ErrCacheExists, codes.AlreadyExists, ""},
	// A CreateCache beyond the cache limit: RESOURCE_EXHAUSTED, as the
	// service answers it ("Your account has a limit of 10 caches"), with no
	// "err" trailer, since none of the SDKs' limit causes names it.
	{store.ErrCacheLimit, codes.ResourceExhausted, ""},
	{store.ErrItemTooLarge, codes.ResourceExhausted, "item_size_limit_exceeded"},
	{store.ErrRequestTooLarge, codes.ResourceExhausted, "request_size_limit_exceeded"},
	{store.ErrTooManySubscriptions, codes.ResourceExhausted, "topic_subscriptions_limit_exceeded"},
	{store.ErrRateExceeded, codes.ResourceExhausted, "operations_rate_limit_exceeded"},
	// A flushed cache resets its topics: ABORTED, which the SDKs retry,
	// so that a subscriber resubscribes and learns of the new page.
	{store.ErrTopicReset, codes.Aborted, ""},
	{store.ErrElementTooLarge, codes.ResourceExhausted, "element_size_limit_exceeded"},
	{store.ErrNotInteger, codes.FailedPrecondition, ""},
	{store.ErrOverflow, codes.FailedPrecondition, ""},
	// A call on a key of another type: FAILED_PRECONDITION, never INTERNAL,
	// which the SDKs would retry until their deadline.
	{store.ErrWrongType, codes.FailedPrecondition, ""},
	{store.ErrInvalidScore, codes.InvalidArgument, ""},
	{store.ErrInvalidName, codes.InvalidArgument, ""},
	{store.ErrInvalidTopicName, codes.InvalidArgument, ""},
	{store.ErrInvalidLeaderboardName, codes.InvalidArgument, ""},
	{store.ErrInvalidKey, codes.InvalidArgument, ""},
	{store.ErrInvalidTTL, codes.InvalidArgument, ""},
	{errInvalidRequest, codes.InvalidArgument, ""},
	{store.ErrClosed, codes.Unavailable, ""},
	// The backend is unreachable for now (a Redis Cluster in failover or
	// down): UNAVAILABLE, which the SDKs retry.
	{store.ErrUnavailable, codes.Unavailable, ""},
	{auth.ErrMissingKey, codes.Unauthenticated, ""},
	{auth.ErrInvalidKey, codes.Unauthenticated, ""},
	{auth.ErrExpiredKey, codes.Unauthenticated, ""},
	{auth.ErrRevokedKey, codes.Unauthenticated, ""},
	{ErrNoAuthRule, codes.PermissionDenied, ""},
	{auth.ErrPermissionDenied, codes.PermissionDenied, ""},
	{context.DeadlineExceeded, codes.DeadlineExceeded, ""},
	{context.Canceled, codes.Canceled, ""},
}

// errInvalidRequest marks a request that is malformed at the protocol level,
// such as a SetIf without a condition.
var errInvalidRequest = errors.New("grpcsvc: invalid request")

// Code returns the status code for a domain error: the first sentinel in the
// mapping table that err wraps, a status error's own code, or Internal.
func Code(err error) codes.Code {
	code, _ := classify(err)
	return code
}

func classify(err error) (codes.Code, string) {
	if err == nil {
		return codes.OK, ""
	}
	for _, m := range errorMappings {
		if errors.Is(err, m.sentinel) {
			return m.code, m.cause
		}
	}
	if s, ok := status.FromError(err); ok {
		return s.Code(), ""
	}
	return codes.Internal, ""
}

// toStatus converts a domain error to the status error returned to the
// client, setting the "err" trailer where the SDKs read one. Errors that are
// already statuses pass through unchanged.
func toStatus(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	code, cause := classify(err)
	if cause != "" {
		_ = grpc.SetTrailer(ctx, metadata.Pairs("err", cause))
	}
	return status.Error(code, err.Error())
}

// StatusFromError is toStatus for callers outside a handler, such as
// interceptors: it maps err without setting trailers.
func StatusFromError(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	return status.Error(Code(err), err.Error())
}
