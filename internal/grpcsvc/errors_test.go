package grpcsvc_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/thaw-dev/thaw/internal/auth"
	"github.com/thaw-dev/thaw/internal/grpcsvc"
	"github.com/thaw-dev/thaw/internal/store"
)

func TestCode(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want codes.Code
	}{
		{"nil", nil, codes.OK},
		{"cache not found", fmt.Errorf("memory: get: %w", store.ErrCacheNotFound), codes.NotFound},
		{"cache exists", store.ErrCacheExists, codes.AlreadyExists},
		{"cache limit", fmt.Errorf("memory: create cache %q: %w", "c", store.ErrCacheLimit), codes.ResourceExhausted},
		{"item too large", store.ErrItemTooLarge, codes.ResourceExhausted},
		{"not an integer", store.ErrNotInteger, codes.FailedPrecondition},
		{"overflow", store.ErrOverflow, codes.FailedPrecondition},
		{"invalid name", store.ErrInvalidName, codes.InvalidArgument},
		{"invalid key", store.ErrInvalidKey, codes.InvalidArgument},
		{"invalid ttl", store.ErrInvalidTTL, codes.InvalidArgument},
		{"invalid topic name", store.ErrInvalidTopicName, codes.InvalidArgument},
		{"too many subscriptions", store.ErrTooManySubscriptions, codes.ResourceExhausted},
		{"publish rate", store.ErrRateExceeded, codes.ResourceExhausted},
		{"topic reset", fmt.Errorf("memory: cache flushed: %w", store.ErrTopicReset), codes.Aborted},
		{"closed store", store.ErrClosed, codes.Unavailable},
		{"unreachable store", fmt.Errorf("redis: get: %w: dial tcp 127.0.0.1:1: connect: connection refused", store.ErrUnavailable), codes.Unavailable},
		{"missing key", auth.ErrMissingKey, codes.Unauthenticated},
		{"invalid key", auth.ErrInvalidKey, codes.Unauthenticated},
		{"expired key", auth.ErrExpiredKey, codes.Unauthenticated},
		{"revoked key", auth.ErrRevokedKey, codes.Unauthenticated},
		{"method without an auth rule", grpcsvc.ErrNoAuthRule, codes.PermissionDenied},
		{"permission", auth.ErrPermissionDenied, codes.PermissionDenied},
		{"deadline", context.DeadlineExceeded, codes.DeadlineExceeded},
		{"canceled", context.Canceled, codes.Canceled},
		{"status passes through", status.Error(codes.Aborted, "x"), codes.Aborted},
		{"anything else", errors.New("disk on fire"), codes.Internal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := grpcsvc.Code(tt.err); got != tt.want {
				t.Errorf("Code(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}
