package grpcsvc_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/thaw-dev/thaw/internal/auth"
	"github.com/thaw-dev/thaw/internal/grpcsvc"
)

func TestRecoveryTurnsPanicIntoInternal(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	info := &grpc.UnaryServerInfo{FullMethod: "/cache_client.Scs/Get"}
	panicking := func(context.Context, any) (any, error) { panic("boom") }

	resp, err := grpcsvc.RecoveryUnaryInterceptor(logger)(context.Background(), nil, info, panicking)
	if resp != nil || status.Code(err) != codes.Internal {
		t.Fatalf("interceptor = %v, %v; want nil, INTERNAL", resp, err)
	}
	if !strings.Contains(logs.String(), "boom") || !strings.Contains(logs.String(), "/cache_client.Scs/Get") {
		t.Errorf("log %q lacks the panic value and method", logs.String())
	}

	streamInfo := &grpc.StreamServerInfo{FullMethod: "/cache_client.Scs/GetBatch"}
	err = grpcsvc.RecoveryStreamInterceptor(logger)(nil, nil, streamInfo, func(any, grpc.ServerStream) error { panic("bang") })
	if status.Code(err) != codes.Internal {
		t.Fatalf("stream interceptor = %v, want INTERNAL", err)
	}
}

func TestMethodAction(t *testing.T) {
	tests := []struct {
		method string
		action auth.Action
		needed bool
	}{
		{"/cache_client.Scs/Get", auth.ActionRead, true},
		{"/cache_client.Scs/GetBatch", auth.ActionRead, true},
		{"/cache_client.Scs/KeysExist", auth.ActionRead, true},
		{"/cache_client.Scs/ItemGetTtl", auth.ActionRead, true},
		{"/cache_client.Scs/Set", auth.ActionWrite, true},
		{"/cache_client.Scs/SetIf", auth.ActionWrite, true},
		{"/cache_client.Scs/Increment", auth.ActionWrite, true},
		{"/cache_client.Scs/DictionarySet", auth.ActionWrite, true},
		{"/control_client.ScsControl/ListCaches", auth.ActionControl, true},
		{"/cache_client.Ping/Ping", "", false},
		{"/grpc.health.v1.Health/Check", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			action, needed := grpcsvc.MethodAction(tt.method)
			if action != tt.action || needed != tt.needed {
				t.Errorf("MethodAction(%q) = %q, %v; want %q, %v", tt.method, action, needed, tt.action, tt.needed)
			}
		})
	}
}
