package httpapi

import (
	"errors"
	"net/http"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/thaw-dev/thaw/internal/grpcsvc"
)

// errBadRequest marks an HTTP request that names its call wrongly: a
// missing or doubled parameter, a malformed query, a body that cannot be
// read. It is a 400, as INVALID_ARGUMENT is.
var errBadRequest = errors.New("httpapi: bad request")

// statusFor maps the gRPC status code of a call's outcome to the HTTP status
// the service documents for it: 400, 401, 403, 404, 429 and 500 are the
// error statuses of every route on
// https://docs.momentohq.com/cache/develop/api-reference/http-api and
// https://docs.momentohq.com/topics/api-reference/http-api. Where the docs
// name none (a backend that is down, a deadline), thaw uses the HTTP
// status that means the same.
func statusFor(code codes.Code) int {
	switch code {
	case codes.OK:
		return http.StatusOK
	case codes.InvalidArgument, codes.OutOfRange, codes.FailedPrecondition:
		// FAILED_PRECONDITION: the key holds a collection, not a scalar;
		// the request is wrong, not the server.
		return http.StatusBadRequest
	case codes.Unauthenticated:
		return http.StatusUnauthorized
	case codes.PermissionDenied:
		return http.StatusForbidden
	case codes.NotFound:
		return http.StatusNotFound
	case codes.ResourceExhausted:
		// "account limits were exceeded": item size, request size, topic
		// publish rate, subscriptions.
		return http.StatusTooManyRequests
	case codes.Unavailable:
		return http.StatusServiceUnavailable
	case codes.DeadlineExceeded:
		return http.StatusGatewayTimeout
	case codes.Unimplemented:
		return http.StatusNotImplemented
	}
	return http.StatusInternalServerError
}

// writeError answers with the HTTP status for err and its message as plain
// text. An unknown cache's body starts with "Cache Not Found", which the docs
// give to tell it from a miss ("Key Not Found").
func writeError(w http.ResponseWriter, err error) {
	code := grpcsvc.Code(err)
	if errors.Is(err, errBadRequest) {
		code = codes.InvalidArgument
	}
	msg := err.Error()
	if s, ok := status.FromError(err); ok {
		msg = s.Message()
	}
	if code == codes.NotFound {
		msg = "Cache Not Found: " + msg
	}
	http.Error(w, msg, statusFor(code))
}
