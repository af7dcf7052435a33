package client

import (
	"errors"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

func TestCodeOf(t *testing.T) {
	cases := []struct {
		status  codes.Code
		trailer metadata.MD
		want    Code
	}{
		{codes.NotFound, nil, CodeCacheNotFound},
		{codes.NotFound, metadata.Pairs("err", "item_not_found"), CodeNotFound},
		{codes.NotFound, metadata.Pairs("err", "store_not_found"), CodeNotFound},
		{codes.NotFound, metadata.Pairs("err", "something_else"), CodeCacheNotFound},
		{codes.AlreadyExists, nil, CodeAlreadyExists},
		{codes.InvalidArgument, nil, CodeInvalidArgument},
		{codes.PermissionDenied, nil, CodePermissionDenied},
		{codes.Unauthenticated, nil, CodeUnauthenticated},
		{codes.ResourceExhausted, metadata.Pairs("err", "item_size_limit_exceeded"), CodeLimitExceeded},
		{codes.FailedPrecondition, nil, CodeFailedPrecondition},
		{codes.DeadlineExceeded, nil, CodeTimeout},
		{codes.Unavailable, nil, CodeUnavailable},
		{codes.Canceled, nil, CodeCancelled},
		{codes.Internal, nil, CodeInternal},
		{codes.DataLoss, nil, CodeInternal},
		{codes.Aborted, nil, CodeInternal},
		{codes.OutOfRange, nil, CodeBadRequest},
		{codes.Unimplemented, nil, CodeBadRequest},
		{codes.Unknown, nil, CodeUnknown},
	}
	for _, tc := range cases {
		if got := codeOf(tc.status, tc.trailer); got != tc.want {
			t.Errorf("codeOf(%v, %v) = %v; want %v", tc.status, tc.trailer, got, tc.want)
		}
	}
}

func TestErrorWrapping(t *testing.T) {
	cause := status.Error(codes.ResourceExhausted, "item size exceeds the limit")
	err := fmt.Errorf("saving order: %w", fromRPC("Set", cause, nil))
	if !errors.Is(err, ErrLimitExceeded) || errors.Is(err, ErrInternal) {
		t.Errorf("errors.Is on %v: want ErrLimitExceeded only", err)
	}
	var ce *Error
	if !errors.As(err, &ce) || ce.Op != "Set" || ce.Message != "item size exceeds the limit" {
		t.Errorf("errors.As(%v) = %+v; want Op Set and the server's message", err, ce)
	}
	if status.Code(err) != codes.ResourceExhausted {
		t.Errorf("status.Code(%v) = %v; want the cause's code", err, status.Code(err))
	}
	if got, want := ce.Error(), "client: Set: limit exceeded: item size exceeds the limit"; got != want {
		t.Errorf("Error() = %q; want %q", got, want)
	}
	plain := fromRPC("Get", errors.New("boom"), nil)
	if plain.Code != CodeUnknown || !errors.Is(plain, ErrUnknown) {
		t.Errorf("fromRPC(non-status) = %+v; want CodeUnknown", plain)
	}
}
