package grpcsvc_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/thaw-dev/thaw/api/pubsubpb"
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

func TestRuleFor(t *testing.T) {
	tests := []struct {
		method string
		want   grpcsvc.Rule
		known  bool
	}{
		{"/cache_client.Scs/Get", grpcsvc.Rule{Action: auth.ActionRead, Scope: grpcsvc.ScopeHeader}, true},
		{"/cache_client.Scs/GetBatch", grpcsvc.Rule{Action: auth.ActionRead, Scope: grpcsvc.ScopeHeader}, true},
		{"/cache_client.Scs/Set", grpcsvc.Rule{Action: auth.ActionWrite, Scope: grpcsvc.ScopeHeader}, true},
		{"/cache_client.Scs/Increment", grpcsvc.Rule{Action: auth.ActionWrite, Scope: grpcsvc.ScopeHeader}, true},
		{"/control_client.ScsControl/CreateCache", grpcsvc.Rule{Action: auth.ActionControl, Scope: grpcsvc.ScopeBody}, true},
		{"/control_client.ScsControl/ListCaches", grpcsvc.Rule{Action: auth.ActionControl, Scope: grpcsvc.ScopeFiltered}, true},
		{"/control_client.ScsControl/ListSigningKeys", grpcsvc.Rule{Action: auth.ActionControl, Scope: grpcsvc.ScopeAccount}, true},
		{"/cache_client.pubsub.Pubsub/Publish", grpcsvc.Rule{Action: auth.ActionWrite, Scope: grpcsvc.ScopeBody}, true},
		{"/cache_client.pubsub.Pubsub/Subscribe", grpcsvc.Rule{Action: auth.ActionRead, Scope: grpcsvc.ScopeBody}, true},
		{"/cache_client.Ping/Ping", grpcsvc.Rule{Open: true}, true},
		{"/grpc.health.v1.Health/Check", grpcsvc.Rule{Open: true}, true},
		{"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", grpcsvc.Rule{Open: true}, true},
		// Unknown methods, even of known services, have no rule: refused.
		{"/cache_client.Scs/NoSuchMethod", grpcsvc.Rule{}, false},
		{"/cache_client.pubsub.Pubsub/NoSuchMethod", grpcsvc.Rule{}, false},
		{"/grpc.health.v1.Healthz/Check", grpcsvc.Rule{}, false},
		{"", grpcsvc.Rule{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			got, known := grpcsvc.RuleFor(tt.method)
			if got != tt.want || known != tt.known {
				t.Errorf("RuleFor(%q) = %+v, %v; want %+v, %v", tt.method, got, known, tt.want, tt.known)
			}
		})
	}
}

// countingTestService is a service the policy has never heard of, standing
// in for one registered later without rules; it counts calls that reach it.
type countingTestService struct {
	testgrpc.UnimplementedTestServiceServer
	calls atomic.Int32
}

func (s *countingTestService) EmptyCall(context.Context, *testgrpc.Empty) (*testgrpc.Empty, error) {
	s.calls.Add(1)
	return &testgrpc.Empty{}, nil
}

// TestServiceWithoutRulesIsRefused registers a service with no rules on a
// real server behind the auth interceptor: without a key it is
// UNAUTHENTICATED, with even a superuser key PERMISSION_DENIED, and the
// handler never runs.
func TestServiceWithoutRulesIsRefused(t *testing.T) {
	signer, err := auth.NewSigner(bytes.Repeat([]byte("s"), 32))
	if err != nil {
		t.Fatal(err)
	}
	superuser, err := signer.Sign(auth.Claims{Role: auth.RoleSuperuser})
	if err != nil {
		t.Fatal(err)
	}
	svc := &countingTestService{}
	srv := grpc.NewServer(grpc.UnaryInterceptor(grpcsvc.AuthUnaryInterceptor(signer, nil)))
	testgrpc.RegisterTestServiceServer(srv, svc)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	client := testgrpc.NewTestServiceClient(conn)

	tests := []struct {
		name string
		key  string
		want codes.Code
	}{
		{"no key", "", codes.Unauthenticated},
		{"superuser", superuser, codes.PermissionDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if tt.key != "" {
				ctx = metadata.AppendToOutgoingContext(ctx, "authorization", tt.key)
			}
			_, err := client.EmptyCall(ctx, &testgrpc.Empty{})
			if status.Code(err) != tt.want {
				t.Errorf("EmptyCall with %s = %v, want %v", tt.name, err, tt.want)
			}
		})
	}
	if n := svc.calls.Load(); n != 0 {
		t.Errorf("the handler ran %d times, want never", n)
	}
}

// fakeStream is a server stream without a transport: RecvMsg hands out reqs
// in order, then io.EOF.
type fakeStream struct {
	grpc.ServerStream
	ctx  context.Context
	reqs []proto.Message
}

func (s *fakeStream) Context() context.Context { return s.ctx }

func (s *fakeStream) RecvMsg(m any) error {
	if len(s.reqs) == 0 {
		return io.EOF
	}
	proto.Merge(m.(proto.Message), s.reqs[0])
	s.reqs = s.reqs[1:]
	return nil
}

// TestBodyScopedClientStreamChecksEveryRequest: on a stream whose rule reads
// the cache from the body and whose client may send many requests, every
// request is authorized before the handler gets it.
func TestBodyScopedClientStreamChecksEveryRequest(t *testing.T) {
	signer, err := auth.NewSigner(bytes.Repeat([]byte("s"), 32))
	if err != nil {
		t.Fatal(err)
	}
	key, err := signer.Sign(auth.Claims{Role: auth.RoleReadOnly, Caches: []string{"c"}})
	if err != nil {
		t.Fatal(err)
	}
	req := func(cache string) proto.Message {
		return &pubsubpb.XSubscriptionRequest{CacheName: proto.String(cache), Topic: proto.String("t")}
	}
	ss := &fakeStream{
		ctx:  metadata.NewIncomingContext(t.Context(), metadata.Pairs("authorization", key)),
		reqs: []proto.Message{req("c"), req("other")},
	}
	info := &grpc.StreamServerInfo{FullMethod: pubsubpb.Pubsub_Subscribe_FullMethodName, IsClientStream: true, IsServerStream: true}
	var got []string
	handler := func(_ any, stream grpc.ServerStream) error {
		for {
			var m pubsubpb.XSubscriptionRequest
			if err := stream.RecvMsg(&m); err != nil {
				return err
			}
			got = append(got, m.GetCacheName())
		}
	}
	err = grpcsvc.AuthStreamInterceptor(signer, nil)(nil, ss, info, handler)
	if status.Code(err) != codes.PermissionDenied {
		t.Errorf("stream with a request for another cache = %v, want PERMISSION_DENIED", err)
	}
	if len(got) != 1 || got[0] != "c" {
		t.Errorf("the handler got requests for %q, want only the one for \"c\"", got)
	}
}
