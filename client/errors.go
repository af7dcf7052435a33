package client

import (
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Code classifies an Error. The codes follow the error types of the official
// Momento Node.js SDK, so a failure reads the same in every thaw client.
type Code int

// The codes an Error may carry. The zero value is CodeUnknown.
const (
	// CodeUnknown: the server or the transport gave an error the client cannot
	// classify (gRPC UNKNOWN, or a non-status error).
	CodeUnknown Code = iota
	// CodeCacheNotFound: the named cache does not exist (gRPC NOT_FOUND).
	CodeCacheNotFound
	// CodeNotFound: something other than a cache is missing; the server said
	// so with the trailer err=item_not_found or err=store_not_found.
	CodeNotFound
	// CodeAlreadyExists: the resource exists already (gRPC ALREADY_EXISTS).
	// CreateCache reports an existing cache as a success instead.
	CodeAlreadyExists
	// CodeInvalidArgument: the request or the client configuration is invalid
	// (gRPC INVALID_ARGUMENT, or a check made by the client itself).
	CodeInvalidArgument
	// CodePermissionDenied: the API key does not allow the operation (gRPC
	// PERMISSION_DENIED).
	CodePermissionDenied
	// CodeUnauthenticated: the API key is missing, malformed or expired (gRPC
	// UNAUTHENTICATED).
	CodeUnauthenticated
	// CodeLimitExceeded: a service limit was hit, such as the item size (gRPC
	// RESOURCE_EXHAUSTED); Message says which.
	CodeLimitExceeded
	// CodeFailedPrecondition: the item's state forbids the operation, such as
	// incrementing a value that is not an integer (gRPC FAILED_PRECONDITION).
	CodeFailedPrecondition
	// CodeTimeout: the call's deadline passed before a reply arrived (gRPC
	// DEADLINE_EXCEEDED). Whether a write was applied is unknown.
	CodeTimeout
	// CodeUnavailable: the server could not be reached (gRPC UNAVAILABLE).
	CodeUnavailable
	// CodeCancelled: the call was cancelled, by the caller's context or because
	// its connection was closed (gRPC CANCELLED).
	CodeCancelled
	// CodeInternal: the server failed (gRPC INTERNAL, DATA_LOSS, ABORTED).
	CodeInternal
	// CodeBadRequest: the server does not support the request (gRPC
	// OUT_OF_RANGE, UNIMPLEMENTED).
	CodeBadRequest
)

var codeNames = [...]string{
	CodeUnknown:            "unknown error",
	CodeCacheNotFound:      "cache not found",
	CodeNotFound:           "not found",
	CodeAlreadyExists:      "already exists",
	CodeInvalidArgument:    "invalid argument",
	CodePermissionDenied:   "permission denied",
	CodeUnauthenticated:    "unauthenticated",
	CodeLimitExceeded:      "limit exceeded",
	CodeFailedPrecondition: "failed precondition",
	CodeTimeout:            "timeout",
	CodeUnavailable:        "server unavailable",
	CodeCancelled:          "cancelled",
	CodeInternal:           "internal server error",
	CodeBadRequest:         "bad request",
}

// String returns the code's name in lower-case words, such as "cache not found".
func (c Code) String() string {
	if c >= 0 && int(c) < len(codeNames) {
		return codeNames[c]
	}
	return fmt.Sprintf("code(%d)", int(c))
}

// Error is every error the client returns for a failed operation or an
// invalid configuration. Compare it with the sentinels (errors.Is(err,
// client.ErrCacheNotFound)) or take it apart with errors.As; its cause, when
// the server or the transport produced it, is the gRPC status error, so
// status.Code(err) works as well.
type Error struct {
	// Code classifies the failure.
	Code Code
	// Op is the operation that failed, such as "Get" or "CreateCache"; empty
	// for configuration errors and for the sentinels.
	Op string
	// Message is the detail from the server or the client, possibly empty.
	Message string

	cause error
}

// Error formats the error as "client: OP: CODE: MESSAGE".
func (e *Error) Error() string {
	s := "client: "
	if e.Op != "" {
		s += e.Op + ": "
	}
	s += e.Code.String()
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Unwrap returns the cause: the gRPC status error, or nil.
func (e *Error) Unwrap() error { return e.cause }

// Is reports whether target is an *Error with the same Code, so that every
// sentinel matches any error of its code whatever its Op and Message.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Sentinels for errors.Is, one per Code. They match any *Error with that code.
var (
	ErrUnknown            = &Error{Code: CodeUnknown}
	ErrCacheNotFound      = &Error{Code: CodeCacheNotFound}
	ErrNotFound           = &Error{Code: CodeNotFound}
	ErrAlreadyExists      = &Error{Code: CodeAlreadyExists}
	ErrInvalidArgument    = &Error{Code: CodeInvalidArgument}
	ErrPermissionDenied   = &Error{Code: CodePermissionDenied}
	ErrUnauthenticated    = &Error{Code: CodeUnauthenticated}
	ErrLimitExceeded      = &Error{Code: CodeLimitExceeded}
	ErrFailedPrecondition = &Error{Code: CodeFailedPrecondition}
	ErrTimeout            = &Error{Code: CodeTimeout}
	ErrUnavailable        = &Error{Code: CodeUnavailable}
	ErrCancelled          = &Error{Code: CodeCancelled}
	ErrInternal           = &Error{Code: CodeInternal}
	ErrBadRequest         = &Error{Code: CodeBadRequest}
)

// trailerErr is the trailer in which the server names the cause of some
// errors (NOT_FOUND for items, RESOURCE_EXHAUSTED for item size).
const trailerErr = "err"

// codeOf maps a gRPC status code to the client's Code, as the Node.js SDK
// does. trailer disambiguates NOT_FOUND.
func codeOf(c codes.Code, trailer metadata.MD) Code {
	switch c {
	case codes.NotFound:
		for _, v := range trailer.Get(trailerErr) {
			if v == "item_not_found" || v == "store_not_found" {
				return CodeNotFound
			}
		}
		return CodeCacheNotFound
	case codes.AlreadyExists:
		return CodeAlreadyExists
	case codes.InvalidArgument:
		return CodeInvalidArgument
	case codes.PermissionDenied:
		return CodePermissionDenied
	case codes.Unauthenticated:
		return CodeUnauthenticated
	case codes.ResourceExhausted:
		return CodeLimitExceeded
	case codes.FailedPrecondition:
		return CodeFailedPrecondition
	case codes.DeadlineExceeded:
		return CodeTimeout
	case codes.Unavailable:
		return CodeUnavailable
	case codes.Canceled:
		return CodeCancelled
	case codes.Internal, codes.DataLoss, codes.Aborted:
		return CodeInternal
	case codes.OutOfRange, codes.Unimplemented:
		return CodeBadRequest
	}
	return CodeUnknown
}

// fromRPC wraps the error of a failed call to op. trailer is the call's
// trailer metadata, possibly nil.
func fromRPC(op string, err error, trailer metadata.MD) *Error {
	var ce *Error
	if errors.As(err, &ce) {
		return ce
	}
	st, ok := status.FromError(err)
	if !ok {
		return &Error{Code: CodeUnknown, Op: op, Message: err.Error(), cause: err}
	}
	return &Error{Code: codeOf(st.Code(), trailer), Op: op, Message: st.Message(), cause: err}
}

// invalidArgument returns a client-side validation error for op.
func invalidArgument(op, format string, args ...any) *Error {
	return &Error{Code: CodeInvalidArgument, Op: op, Message: fmt.Sprintf(format, args...)}
}
