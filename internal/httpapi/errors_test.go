package httpapi

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/thaw-dev/thaw/internal/auth"
	"github.com/thaw-dev/thaw/internal/store"
)

func TestHTTPStatusFor(t *testing.T) {
	tests := []struct {
		code codes.Code
		want int
	}{
		{codes.OK, 200},
		{codes.InvalidArgument, 400},
		{codes.OutOfRange, 400},
		{codes.FailedPrecondition, 400},
		{codes.Unauthenticated, 401},
		{codes.PermissionDenied, 403},
		{codes.NotFound, 404},
		{codes.ResourceExhausted, 429},
		{codes.Internal, 500},
		{codes.Unknown, 500},
		{codes.DataLoss, 500},
		{codes.Aborted, 500},
		{codes.Unimplemented, 501},
		{codes.Unavailable, 503},
		{codes.DeadlineExceeded, 504},
	}
	for _, tt := range tests {
		t.Run(tt.code.String(), func(t *testing.T) {
			if got := statusFor(tt.code); got != tt.want {
				t.Errorf("statusFor(%v) = %d, want %d", tt.code, got, tt.want)
			}
		})
	}
}

func TestHTTPWriteError(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		status int
		body   string
	}{
		{"bad request", fmt.Errorf("%w: the key is missing", errBadRequest), 400, "httpapi: bad request: the key is missing\n"},
		{"domain error", fmt.Errorf("%w: item size 9 bytes", store.ErrItemTooLarge), 429, ""},
		{"status error", status.Error(codes.PermissionDenied, "no"), 403, "no\n"},
		{"auth error", fmt.Errorf("m: %w", auth.ErrMissingKey), 401, ""},
		{"unknown cache", status.Error(codes.NotFound, `cache "x"`), 404, "Cache Not Found: cache \"x\"\n"},
		{"anything else", fmt.Errorf("boom"), 500, "boom\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			writeError(w, tt.err)
			if w.Code != tt.status || (tt.body != "" && w.Body.String() != tt.body) {
				t.Errorf("writeError(%v) = %d %q, want %d %q", tt.err, w.Code, w.Body.String(), tt.status, tt.body)
			}
			if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
				t.Errorf("writeError(%v): Content-Type %q, want text/plain", tt.err, ct)
			}
			if w.Code == http.StatusOK {
				t.Errorf("writeError(%v) answered 200", tt.err)
			}
		})
	}
}
