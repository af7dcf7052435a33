package testadmin

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/thaw-dev/thaw/api/cachepb"
)

// testScs is a tiny cache service: Get always misses, Set always succeeds
// and GetBatch answers one miss per requested key. It counts handled calls.
type testScs struct {
	cachepb.UnimplementedScsServer
	handled atomic.Int64
}

func (s *testScs) Get(context.Context, *cachepb.XGetRequest) (*cachepb.XGetResponse, error) {
	s.handled.Add(1)
	return &cachepb.XGetResponse{Result: cachepb.ECacheResult_Miss}, nil
}

func (s *testScs) Set(context.Context, *cachepb.XSetRequest) (*cachepb.XSetResponse, error) {
	s.handled.Add(1)
	return &cachepb.XSetResponse{Result: cachepb.ECacheResult_Ok}, nil
}

func (s *testScs) GetBatch(req *cachepb.XGetBatchRequest, stream grpc.ServerStreamingServer[cachepb.XGetResponse]) error {
	s.handled.Add(1)
	for range req.GetItems() {
		if err := stream.Send(&cachepb.XGetResponse{Result: cachepb.ECacheResult_Miss}); err != nil {
			return err
		}
	}
	return nil
}

// subscribeMethod is served by a hand-written stand-in for Momento's pubsub
// service, so the topic- naming and a subscription-shaped stream (one
// message every few milliseconds until the client leaves) are exercised.
const subscribeMethod = "/cache_client.pubsub.Pubsub/Subscribe"

// testPubsub sends a counter as wrapperspb.Int64Value every tick until the
// stream's context ends; returned receives the handler's result.
type testPubsub struct {
	returned chan error
}

var testPubsubDesc = grpc.ServiceDesc{
	ServiceName: "cache_client.pubsub.Pubsub",
	HandlerType: (*any)(nil),
	Streams: []grpc.StreamDesc{{
		StreamName:    "Subscribe",
		ServerStreams: true,
		Handler: func(srv any, stream grpc.ServerStream) error {
			err := srv.(*testPubsub).subscribe(stream)
			srv.(*testPubsub).returned <- err
			return err
		},
	}},
}

func (p *testPubsub) subscribe(stream grpc.ServerStream) error {
	if err := stream.RecvMsg(new(wrapperspb.StringValue)); err != nil {
		return err
	}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for n := int64(0); ; n++ {
		if err := stream.SendMsg(wrapperspb.Int64(n)); err != nil {
			return err
		}
		select {
		case <-stream.Context().Done():
			return stream.Context().Err()
		case <-tick.C:
		}
	}
}

// testEnv is a real gRPC server on loopback behind a BlockableListener,
// with the Injector's interceptors, and a client connected to it.
type testEnv struct {
	lis    *BlockableListener
	scs    *testScs
	pubsub *testPubsub
	conn   *grpc.ClientConn
	client cachepb.ScsClient
}

func startEnv(t *testing.T, in *Injector) *testEnv {
	t.Helper()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("net.Listen: %v", err)
	}
	lis := NewBlockableListener(raw)
	t.Cleanup(func() { lis.Close() })

	env := &testEnv{lis: lis, scs: &testScs{}, pubsub: &testPubsub{returned: make(chan error, 16)}}
	srv := grpc.NewServer(
		grpc.UnaryInterceptor(in.UnaryInterceptor()),
		grpc.StreamInterceptor(in.StreamInterceptor()),
	)
	cachepb.RegisterScsServer(srv, env.scs)
	srv.RegisterService(&testPubsubDesc, env.pubsub)
	served := make(chan struct{})
	go func() {
		defer close(served)
		srv.Serve(lis)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-served
	})

	conn, err := grpc.NewClient("passthrough:///"+raw.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 20 * time.Millisecond, Multiplier: 1.6, MaxDelay: 200 * time.Millisecond},
			MinConnectTimeout: time.Second,
		}),
	)
	if err != nil {
		t.Fatalf("grpc.NewClient: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	env.conn = conn
	env.client = cachepb.NewScsClient(conn)
	return env
}

// withMD returns a context carrying the given key/value pairs as outgoing
// metadata and a generous timeout, cancelled at the end of the test.
func withMD(t *testing.T, kv ...string) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return metadata.AppendToOutgoingContext(ctx, kv...)
}

// subscribe opens a Subscribe stream on the stand-in pubsub service.
func (e *testEnv) subscribe(ctx context.Context, t *testing.T) grpc.ClientStream {
	t.Helper()
	desc := &grpc.StreamDesc{StreamName: "Subscribe", ServerStreams: true}
	cs, err := e.conn.NewStream(ctx, desc, subscribeMethod)
	if err != nil {
		t.Fatalf("NewStream(%s): %v", subscribeMethod, err)
	}
	if err := cs.SendMsg(wrapperspb.String("topic")); err != nil {
		t.Fatalf("SendMsg: %v", err)
	}
	if err := cs.CloseSend(); err != nil {
		t.Fatalf("CloseSend: %v", err)
	}
	return cs
}
