//go:build linux

package grpcloop_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/thaw-dev/thaw/internal/grpcloop"
)

// started is a running server and a grpc-go client connection to it.
type started struct {
	srv    *grpcloop.Server
	addr   string
	conn   *grpc.ClientConn
	client testpb.TestServiceClient
	svc    *testService
	served chan error // what Serve returned
}

// serve starts a grpcloop server with cfg on 127.0.0.1:0, serving
// testService and the health service, and connects a grpc-go client. The
// cleanup stops it and checks that Serve ended as documented.
func serve(t testing.TB, cfg grpcloop.Config) *started {
	t.Helper()
	s := &started{srv: grpcloop.NewServer(cfg), svc: newTestService(), served: make(chan error, 1)}
	testpb.RegisterTestServiceServer(s.srv, s.svc)
	healthpb.RegisterHealthServer(s.srv, health.NewServer())
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = lis.Addr().String()
	go func() { s.served <- s.srv.Serve(lis) }()
	t.Cleanup(func() {
		s.srv.Stop()
		select {
		case err := <-s.served:
			if !errors.Is(err, grpcloop.ErrServerStopped) {
				t.Errorf("Serve = %v, want ErrServerStopped", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return after Stop")
		}
	})
	s.conn, err = grpc.NewClient(s.addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20), grpc.MaxCallSendMsgSize(64<<20)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.conn.Close() })
	s.client = testpb.NewTestServiceClient(s.conn)
	return s
}

// testService answers grpc.testing.TestService as gRPC's interop server
// does, and tells the test when a handler's context ends.
type testService struct {
	testpb.UnimplementedTestServiceServer
	ended chan error    // a handler's ctx.Err() once its context ended
	sent  chan struct{} // a StreamingOutputCall has sent every response
}

func newTestService() *testService {
	return &testService{ended: make(chan error, 16), sent: make(chan struct{}, 16)}
}

func payload(n int32) *testpb.Payload {
	b := bytes.Repeat([]byte{'x'}, int(n))
	return &testpb.Payload{Body: b}
}

// echoMetadata sends back the "x-initial" header and "x-trailing-bin"
// trailer the call carries.
func echoMetadata(ctx context.Context) error {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get("x-initial"); len(v) > 0 {
		if err := grpc.SetHeader(ctx, metadata.Pairs("x-initial", v[0])); err != nil {
			return err
		}
	}
	if v := md.Get("x-trailing-bin"); len(v) > 0 {
		return grpc.SetTrailer(ctx, metadata.Pairs("x-trailing-bin", v[0]))
	}
	return nil
}

func (s *testService) EmptyCall(ctx context.Context, _ *testpb.Empty) (*testpb.Empty, error) {
	return &testpb.Empty{}, echoMetadata(ctx)
}

func (s *testService) UnaryCall(ctx context.Context, req *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	if err := echoMetadata(ctx); err != nil {
		return nil, err
	}
	if st := req.GetResponseStatus(); st != nil && st.GetCode() != 0 {
		return nil, status.Error(codes.Code(st.GetCode()), st.GetMessage())
	}
	return &testpb.SimpleResponse{Payload: payload(req.GetResponseSize())}, nil
}

func (s *testService) StreamingOutputCall(req *testpb.StreamingOutputCallRequest, stream testpb.TestService_StreamingOutputCallServer) error {
	for _, p := range req.GetResponseParameters() {
		if err := stream.Send(&testpb.StreamingOutputCallResponse{Payload: payload(p.GetSize())}); err != nil {
			return err
		}
	}
	s.sent <- struct{}{}
	return nil
}

func (s *testService) StreamingInputCall(stream testpb.TestService_StreamingInputCallServer) error {
	var sum int32
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return stream.SendAndClose(&testpb.StreamingInputCallResponse{AggregatedPayloadSize: sum})
		}
		if err != nil {
			return err
		}
		sum += int32(len(req.GetPayload().GetBody()))
	}
}

// FullDuplexCall answers each request with its response sizes; a request
// with no sizes makes it wait for the call's end, which it reports.
func (s *testService) FullDuplexCall(stream testpb.TestService_FullDuplexCallServer) error {
	if err := echoMetadata(stream.Context()); err != nil {
		return err
	}
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			s.ended <- stream.Context().Err()
			return err
		}
		if len(req.GetResponseParameters()) == 0 {
			<-stream.Context().Done()
			s.ended <- stream.Context().Err()
			return stream.Context().Err()
		}
		for _, p := range req.GetResponseParameters() {
			if err := stream.Send(&testpb.StreamingOutputCallResponse{Payload: payload(p.GetSize())}); err != nil {
				return err
			}
		}
	}
}

func TestUnaryLargeMessages(t *testing.T) {
	s := serve(t, grpcloop.Config{MaxRecvMsgSize: 32 << 20})
	for _, size := range []int32{0, 1, 70_000, 3 << 20, 20 << 20} {
		resp, err := s.client.UnaryCall(t.Context(), &testpb.SimpleRequest{ResponseSize: size, Payload: payload(size)})
		if err != nil {
			t.Fatalf("UnaryCall of %d bytes: %v", size, err)
		}
		if got := len(resp.GetPayload().GetBody()); got != int(size) {
			t.Errorf("UnaryCall of %d bytes: got %d", size, got)
		}
	}
}

func TestServerStreaming(t *testing.T) {
	s := serve(t, grpcloop.Config{})
	sizes := []int32{31415, 9, 2653, 58979, 4 << 20}
	req := &testpb.StreamingOutputCallRequest{}
	for _, n := range sizes {
		req.ResponseParameters = append(req.ResponseParameters, &testpb.ResponseParameters{Size: n})
	}
	stream, err := s.client.StreamingOutputCall(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			if i != len(sizes) {
				t.Fatalf("stream ended after %d of %d responses", i, len(sizes))
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if got := len(resp.GetPayload().GetBody()); got != int(sizes[i]) {
			t.Errorf("response %d: %d bytes, want %d", i, got, sizes[i])
		}
	}
}

// TestSlowReader checks that a client which grants huge windows but does
// not read holds the handler back instead of making the server queue
// everything: 64 MiB cannot have been sent before the client reads.
func TestSlowReader(t *testing.T) {
	s := serve(t, grpcloop.Config{})
	c := dialRaw(t, s.addr)
	if err := c.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1<<31 - 1}); err != nil {
		t.Fatal(err)
	}
	if err := c.fr.WriteWindowUpdate(0, 1<<31-1-65535); err != nil {
		t.Fatal(err)
	}
	req := &testpb.StreamingOutputCallRequest{}
	for range 64 {
		req.ResponseParameters = append(req.ResponseParameters, &testpb.ResponseParameters{Size: 1 << 20})
	}
	c.send(t, "/grpc.testing.TestService/StreamingOutputCall", grpcMessage(t, req), true)
	select {
	case <-s.svc.sent:
		t.Fatal("the handler sent 64 MiB to a client that reads nothing")
	case <-time.After(3 * time.Second): // without the hold, it takes about 1 s here
	}
	var got int
	c.next(t, func(f http2.Frame) bool {
		if d, ok := f.(*http2.DataFrame); ok {
			got += len(d.Data())
		}
		h, ok := f.(*http2.MetaHeadersFrame)
		return ok && h.StreamEnded()
	})
	if want := 64 * (1<<20 + 5 + 5); got < want { // each message: prefix, field tags and payload
		t.Errorf("received %d bytes, want at least %d", got, want)
	}
	select {
	case <-s.svc.sent:
	case <-time.After(10 * time.Second):
		t.Fatal("the handler did not finish once the client read")
	}
}

// grpcMessage frames m as a gRPC message: not compressed, its length, m.
func grpcMessage(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return append(binary.BigEndian.AppendUint32([]byte{0}, uint32(len(b))), b...)
}

func TestClientStreaming(t *testing.T) {
	s := serve(t, grpcloop.Config{})
	stream, err := s.client.StreamingInputCall(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var sum int32
	for _, n := range []int32{27182, 8, 1828, 45904, 3 << 20} {
		if err := stream.Send(&testpb.StreamingInputCallRequest{Payload: payload(n)}); err != nil {
			t.Fatal(err)
		}
		sum += n
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetAggregatedPayloadSize() != sum {
		t.Errorf("aggregated %d bytes, want %d", resp.GetAggregatedPayloadSize(), sum)
	}
}

func TestPingPongAndEmptyStream(t *testing.T) {
	s := serve(t, grpcloop.Config{})
	stream, err := s.client.FullDuplexCall(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range []int32{31415, 9, 2653, 58979} {
		req := &testpb.StreamingOutputCallRequest{ResponseParameters: []*testpb.ResponseParameters{{Size: n}}, Payload: payload(n)}
		if err := stream.Send(req); err != nil {
			t.Fatal(err)
		}
		resp, err := stream.Recv()
		if err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		if got := len(resp.GetPayload().GetBody()); got != int(n) {
			t.Errorf("round %d: %d bytes, want %d", i, got, n)
		}
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
		t.Errorf("Recv after CloseSend = %v, want io.EOF", err)
	}

	empty, err := s.client.FullDuplexCall(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := empty.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := empty.Recv(); !errors.Is(err, io.EOF) {
		t.Errorf("empty stream: Recv = %v, want io.EOF", err)
	}
}

// TestStatusCodeAndMessage checks that a status's code, a message with
// characters grpc-message must percent-encode, and details arrive whole.
func TestStatusCodeAndMessage(t *testing.T) {
	s := serve(t, grpcloop.Config{
		UnaryInterceptors: []grpc.UnaryServerInterceptor{func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			if md, _ := metadata.FromIncomingContext(ctx); len(md.Get("want-details")) > 0 {
				st, err := status.New(codes.FailedPrecondition, "with details").WithDetails(durationpb.New(1500 * time.Millisecond))
				if err != nil {
					return nil, err
				}
				return nil, st.Err()
			}
			return h(ctx, req)
		}},
	})
	msg := "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈 and 100%\t\n"
	_, err := s.client.UnaryCall(t.Context(), &testpb.SimpleRequest{ResponseStatus: &testpb.EchoStatus{Code: 2, Message: msg}})
	if st := status.Convert(err); st.Code() != codes.Unknown || st.Message() != msg {
		t.Errorf("UnaryCall = %v %q, want %v %q", st.Code(), st.Message(), codes.Unknown, msg)
	}

	ctx := metadata.AppendToOutgoingContext(t.Context(), "want-details", "1")
	_, err = s.client.UnaryCall(ctx, &testpb.SimpleRequest{})
	st := status.Convert(err)
	if st.Code() != codes.FailedPrecondition || len(st.Details()) != 1 {
		t.Fatalf("UnaryCall = %v, want FAILED_PRECONDITION with one detail", st.Proto())
	}
	if d, ok := st.Details()[0].(*durationpb.Duration); !ok || d.AsDuration() != 1500*time.Millisecond {
		t.Errorf("detail = %v, want 1.5s", st.Details()[0])
	}
}

func TestCustomMetadata(t *testing.T) {
	s := serve(t, grpcloop.Config{})
	binary := string([]byte{0xab, 0xab, 0xab, 0x00, 0x01})
	ctx := metadata.AppendToOutgoingContext(t.Context(), "x-initial", "test_initial_metadata_value", "x-trailing-bin", binary)

	var header, trailer metadata.MD
	if _, err := s.client.UnaryCall(ctx, &testpb.SimpleRequest{ResponseSize: 10}, grpc.Header(&header), grpc.Trailer(&trailer)); err != nil {
		t.Fatal(err)
	}
	checkEchoed(t, "unary", header, trailer, binary)

	stream, err := s.client.FullDuplexCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&testpb.StreamingOutputCallRequest{ResponseParameters: []*testpb.ResponseParameters{{Size: 10}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("Recv = %v, want io.EOF", err)
	}
	header, err = stream.Header()
	if err != nil {
		t.Fatal(err)
	}
	checkEchoed(t, "streaming", header, stream.Trailer(), binary)
}

func checkEchoed(t *testing.T, call string, header, trailer metadata.MD, binary string) {
	t.Helper()
	if got := header.Get("x-initial"); len(got) != 1 || got[0] != "test_initial_metadata_value" {
		t.Errorf("%s: header x-initial = %q", call, got)
	}
	if got := trailer.Get("x-trailing-bin"); len(got) != 1 || got[0] != binary {
		t.Errorf("%s: trailer x-trailing-bin = %q, want %q", call, got, binary)
	}
}

// TestDeadline checks that grpc-timeout becomes the handler's deadline:
// the handler's context ends by itself and the client gets
// DEADLINE_EXCEEDED from the server (a raw client, which never resets the
// stream as grpc-go's does when its own deadline passes).
func TestDeadline(t *testing.T) {
	s := serve(t, grpcloop.Config{})
	c := dialRaw(t, s.addr)
	c.send(t, "/grpc.testing.TestService/FullDuplexCall", emptyRequest, false, "grpc-timeout", "50m")
	if err := handlerEnded(t, s); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("the handler's context ended with %v, want context.DeadlineExceeded", err)
	}
	f := c.next(t, func(f http2.Frame) bool { h, ok := f.(*http2.MetaHeadersFrame); return ok && h.StreamEnded() }).(*http2.MetaHeadersFrame)
	var got string
	for _, hf := range f.RegularFields() {
		if hf.Name == "grpc-status" {
			got = hf.Value
		}
	}
	if got != "4" {
		t.Errorf("grpc-status %q, want 4 (DEADLINE_EXCEEDED)", got)
	}
}

// TestClientCancel checks that a client's reset cancels the handler.
func TestClientCancel(t *testing.T) {
	s := serve(t, grpcloop.Config{})
	ctx, cancel := context.WithCancel(t.Context())
	stream, err := s.client.FullDuplexCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&testpb.StreamingOutputCallRequest{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // the handler is waiting
	cancel()
	if err := handlerEnded(t, s); !errors.Is(err, context.Canceled) {
		t.Errorf("the handler's context ended with %v, want context.Canceled", err)
	}
}

func handlerEnded(t *testing.T, s *started) error {
	t.Helper()
	select {
	case err := <-s.svc.ended:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("the handler's context did not end")
		return nil
	}
}

func TestMessageOverLimit(t *testing.T) {
	s := serve(t, grpcloop.Config{MaxRecvMsgSize: 1024})
	_, err := s.client.UnaryCall(t.Context(), &testpb.SimpleRequest{Payload: payload(2048)})
	if st := status.Convert(err); st.Code() != codes.ResourceExhausted || !strings.Contains(st.Message(), "larger than max") {
		t.Errorf("UnaryCall of 2 KiB = %v, want RESOURCE_EXHAUSTED", err)
	}
	if _, err := s.client.UnaryCall(t.Context(), &testpb.SimpleRequest{Payload: payload(100)}); err != nil {
		t.Errorf("UnaryCall under the limit after the refusal = %v", err)
	}
}

// TestInterceptorsAndUnknownMethods checks the chains' order, the
// information they get, the peer and the unknown-method handler.
func TestInterceptorsAndUnknownMethods(t *testing.T) {
	var mu sync.Mutex
	var calls []string
	note := func(s string) {
		mu.Lock()
		calls = append(calls, s)
		mu.Unlock()
	}
	unary := func(name string) grpc.UnaryServerInterceptor {
		return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			note(name + " " + info.FullMethod)
			if p, ok := peer.FromContext(ctx); !ok || !strings.HasPrefix(p.Addr.String(), "127.0.0.1:") {
				t.Errorf("peer = %v", p)
			}
			return h(ctx, req)
		}
	}
	stream := func(name string) grpc.StreamServerInterceptor {
		return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			method, _ := grpc.MethodFromServerStream(ss)
			note(name + " " + method)
			return h(srv, ss)
		}
	}
	s := serve(t, grpcloop.Config{
		UnaryInterceptors:  []grpc.UnaryServerInterceptor{unary("u1"), unary("u2")},
		StreamInterceptors: []grpc.StreamServerInterceptor{stream("s1"), stream("s2")},
		UnknownStreamHandler: func(_ any, ss grpc.ServerStream) error {
			method, _ := grpc.MethodFromServerStream(ss)
			return status.Errorf(codes.Unimplemented, "nobody serves %s", method)
		},
	})
	if _, err := s.client.EmptyCall(t.Context(), &testpb.Empty{}); err != nil {
		t.Fatal(err)
	}
	_, err := testpb.NewUnimplementedServiceClient(s.conn).UnimplementedCall(t.Context(), &testpb.Empty{})
	if st := status.Convert(err); st.Code() != codes.Unimplemented || st.Message() != "nobody serves /grpc.testing.UnimplementedService/UnimplementedCall" {
		t.Errorf("UnimplementedCall = %v", err)
	}
	want := []string{
		"u1 /grpc.testing.TestService/EmptyCall", "u2 /grpc.testing.TestService/EmptyCall",
		"s1 /grpc.testing.UnimplementedService/UnimplementedCall", "s2 /grpc.testing.UnimplementedService/UnimplementedCall",
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(calls, "\n") != strings.Join(want, "\n") {
		t.Errorf("interceptors ran %q, want %q", calls, want)
	}
}

// rawConn is a client connection driven frame by frame.
type rawConn struct {
	net.Conn
	fr  *http2.Framer
	enc *hpack.Encoder
	buf bytes.Buffer
}

// dialRaw connects, sends the preface and SETTINGS, and reads up to the
// server's SETTINGS.
func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	if err := nc.SetDeadline(time.Now().Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	c := &rawConn{Conn: nc, fr: http2.NewFramer(nc, nc)}
	c.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	c.enc = hpack.NewEncoder(&c.buf)
	if _, err := io.WriteString(nc, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	if err := c.fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	return c
}

// call opens a stream to method without ending it; kv are more header
// fields, name then value.
func (c *rawConn) call(t *testing.T, id uint32, method string, kv ...string) {
	t.Helper()
	c.buf.Reset()
	fields := append([]string{":method", "POST", ":scheme", "http", ":path", method, ":authority", "x", "content-type", "application/grpc", "te", "trailers"}, kv...)
	for i := 0; i+1 < len(fields); i += 2 {
		c.enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: c.buf.Bytes(), EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
}

// emptyRequest is an empty FullDuplexCall request: its handler waits for
// the call's end.
var emptyRequest = []byte{0, 0, 0, 0, 0}

// send opens stream 1 to method with body as its first DATA frame, ending
// the client's side when end is set; kv are more header fields.
func (c *rawConn) send(t *testing.T, method string, body []byte, end bool, kv ...string) {
	t.Helper()
	c.call(t, 1, method, kv...)
	if err := c.fr.WriteData(1, end, body); err != nil {
		t.Fatal(err)
	}
}

// next reads frames until one satisfies want, and returns it.
func (c *rawConn) next(t *testing.T, want func(http2.Frame) bool) http2.Frame {
	t.Helper()
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			t.Fatalf("reading frames: %v", err)
		}
		if want(f) {
			return f
		}
	}
}

func TestTooManyPings(t *testing.T) {
	s := serve(t, grpcloop.Config{KeepaliveMinTime: time.Hour})
	c := dialRaw(t, s.addr)
	for i := range 4 {
		if err := c.fr.WritePing(false, [8]byte{byte(i)}); err != nil {
			break // the server may close first
		}
	}
	f := c.next(t, func(f http2.Frame) bool { _, ok := f.(*http2.GoAwayFrame); return ok }).(*http2.GoAwayFrame)
	if f.ErrCode != http2.ErrCodeEnhanceYourCalm || string(f.DebugData()) != "too_many_pings" {
		t.Errorf("GOAWAY %v %q, want ENHANCE_YOUR_CALM too_many_pings", f.ErrCode, f.DebugData())
	}
}

func TestPingsAtThePolicysRate(t *testing.T) {
	s := serve(t, grpcloop.Config{KeepaliveMinTime: 20 * time.Millisecond})
	c := dialRaw(t, s.addr)
	for i := range 5 {
		if err := c.fr.WritePing(false, [8]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
		c.next(t, func(f http2.Frame) bool {
			if g, ok := f.(*http2.GoAwayFrame); ok {
				t.Fatalf("GOAWAY %v %q", g.ErrCode, g.DebugData())
			}
			p, ok := f.(*http2.PingFrame)
			return ok && p.IsAck() && p.Data[0] == byte(i)
		})
		time.Sleep(25 * time.Millisecond)
	}
}

func TestMaxConcurrentStreams(t *testing.T) {
	s := serve(t, grpcloop.Config{MaxConcurrentStreams: 2})
	c := dialRaw(t, s.addr)
	for _, id := range []uint32{1, 3, 5} {
		c.call(t, id, "/grpc.testing.TestService/FullDuplexCall")
	}
	f := c.next(t, func(f http2.Frame) bool { _, ok := f.(*http2.RSTStreamFrame); return ok }).(*http2.RSTStreamFrame)
	if f.StreamID != 5 || f.ErrCode != http2.ErrCodeRefusedStream {
		t.Errorf("RST_STREAM %d %v, want stream 5 REFUSED_STREAM", f.StreamID, f.ErrCode)
	}
}

func TestProtocolErrors(t *testing.T) {
	s := serve(t, grpcloop.Config{})
	for name, send := range map[string]func(c *rawConn) error{
		"an even stream id": func(c *rawConn) error {
			return c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 2, BlockFragment: []byte{0x83}, EndHeaders: true})
		},
		"CONTINUATION without HEADERS": func(c *rawConn) error { return c.fr.WriteContinuation(1, true, []byte{0x83}) },
		"a bad HPACK block": func(c *rawConn) error {
			return c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: []byte{0xff, 0xff, 0xff}, EndHeaders: true})
		},
		"a stream id going back": func(c *rawConn) error {
			c.call(t, 7, "/grpc.testing.TestService/FullDuplexCall")
			c.call(t, 5, "/grpc.testing.TestService/FullDuplexCall")
			return nil
		},
	} {
		t.Run(name, func(t *testing.T) {
			c := dialRaw(t, s.addr)
			if err := send(c); err != nil {
				t.Fatal(err)
			}
			f := c.next(t, func(f http2.Frame) bool { _, ok := f.(*http2.GoAwayFrame); return ok }).(*http2.GoAwayFrame)
			if f.ErrCode == http2.ErrCodeNo {
				t.Errorf("GOAWAY NO_ERROR, want an error code")
			}
			if _, err := c.fr.ReadFrame(); err == nil {
				t.Error("the connection stays open after GOAWAY")
			}
		})
	}
	// The server still serves.
	if _, err := s.client.EmptyCall(t.Context(), &testpb.Empty{}); err != nil {
		t.Errorf("EmptyCall after the protocol errors = %v", err)
	}
	nc, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := io.WriteString(nc, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	if err := nc.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(nc); err != nil {
		t.Errorf("HTTP/1.1 request: the server did not close the connection: %v", err)
	}
}

func TestGracefulStop(t *testing.T) {
	var open atomic.Int64
	s := serve(t, grpcloop.Config{ConnOpened: func() { open.Add(1) }, ConnClosed: func() { open.Add(-1) }})
	stream, err := s.client.FullDuplexCall(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	ask := func(n int32) error {
		if err := stream.Send(&testpb.StreamingOutputCallRequest{ResponseParameters: []*testpb.ResponseParameters{{Size: n}}}); err != nil {
			return err
		}
		_, err := stream.Recv()
		return err
	}
	if err := ask(1); err != nil {
		t.Fatal(err)
	}
	stopped := make(chan struct{})
	go func() {
		s.srv.GracefulStop()
		close(stopped)
	}()
	select {
	case <-stopped:
		t.Fatal("GracefulStop returned with a call in flight")
	case <-time.After(100 * time.Millisecond):
	}
	if err := ask(2); err != nil {
		t.Errorf("the call in flight failed during GracefulStop: %v", err)
	}
	if _, err := s.client.EmptyCall(t.Context(), &testpb.Empty{}, grpc.WaitForReady(false)); err == nil {
		t.Error("a new call succeeded during GracefulStop")
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
		t.Errorf("Recv = %v, want io.EOF", err)
	}
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("GracefulStop did not return once the call ended")
	}
	if n := open.Load(); n != 0 {
		t.Errorf("%d connections counted open after GracefulStop", n)
	}
}

func TestCloseConnections(t *testing.T) {
	var opened atomic.Int64
	s := serve(t, grpcloop.Config{ConnOpened: func() { opened.Add(1) }})
	if _, err := s.client.EmptyCall(t.Context(), &testpb.Empty{}); err != nil {
		t.Fatal(err)
	}
	s.srv.CloseConnections()
	// A call may still go out on the closed connection before the client
	// notices; the next ones reconnect.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := s.client.EmptyCall(t.Context(), &testpb.Empty{}, grpc.WaitForReady(true))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("EmptyCall after CloseConnections = %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := opened.Load(); n != 2 {
		t.Errorf("%d connections opened, want 2: the client reconnects", n)
	}
}

// TestStopLeavesNothing checks that Stop ends every goroutine and closes
// every descriptor the server opened, with calls in flight.
func TestStopLeavesNothing(t *testing.T) {
	warm, err := net.Listen("tcp", "127.0.0.1:0") // Go's poller opens its descriptors once
	if err != nil {
		t.Fatal(err)
	}
	warm.Close()
	fds, goroutines := openFDs(t), runtime.NumGoroutine()

	srv := grpcloop.NewServer(grpcloop.Config{})
	svc := newTestService()
	testpb.RegisterTestServiceServer(srv, svc)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	var raws []*rawConn
	for range 3 {
		c := dialRaw(t, lis.Addr().String())
		c.send(t, "/grpc.testing.TestService/FullDuplexCall", emptyRequest, false)
		raws = append(raws, c)
	}
	time.Sleep(50 * time.Millisecond)
	srv.Stop()
	if err := <-served; !errors.Is(err, grpcloop.ErrServerStopped) {
		t.Errorf("Serve = %v", err)
	}
	for _, c := range raws {
		c.Close()
	}
	for range 3 {
		<-svc.ended
	}
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > goroutines && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > goroutines {
		t.Errorf("%d goroutines after Stop, %d before", n, goroutines)
	}
	if n := openFDs(t); n > fds {
		t.Errorf("%d descriptors open after Stop, %d before", n, fds)
	}
}

func openFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// TestReplyHeldByWindowPastDeadline: a client that grants no window gets
// DEADLINE_EXCEEDED once its deadline passes, instead of a stream that
// stays open with nothing said.
func TestReplyHeldByWindowPastDeadline(t *testing.T) {
	c := unaryInWindow(t, 0, 10)
	f := c.next(t, func(f http2.Frame) bool {
		if r, ok := f.(*http2.RSTStreamFrame); ok {
			t.Fatalf("RST_STREAM %v, want a status", r.ErrCode)
		}
		h, ok := f.(*http2.MetaHeadersFrame)
		return ok && h.StreamEnded()
	}).(*http2.MetaHeadersFrame)
	if got := fieldOf(f, "grpc-status"); got != "4" {
		t.Errorf("grpc-status %q, want 4 (DEADLINE_EXCEEDED)", got)
	}
}

// unaryInWindow starts a server and calls UnaryCall for a reply of size
// bytes from a raw client that grants each stream window bytes and gives
// the call 50 ms.
func unaryInWindow(t *testing.T, window uint32, size int32) *rawConn {
	t.Helper()
	s := serve(t, grpcloop.Config{})
	c := dialRaw(t, s.addr)
	if err := c.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: window}); err != nil {
		t.Fatal(err)
	}
	c.send(t, "/grpc.testing.TestService/UnaryCall", grpcMessage(t, &testpb.SimpleRequest{ResponseSize: size}), true, "grpc-timeout", "50m")
	return c
}

func fieldOf(f *http2.MetaHeadersFrame, name string) string {
	for _, hf := range f.RegularFields() {
		if hf.Name == name {
			return hf.Value
		}
	}
	return ""
}

// TestHeaderOfAFailedCall: header metadata set before a call fails arrives
// as header metadata, and metadata HTTP/2 cannot carry is refused.
func TestHeaderOfAFailedCall(t *testing.T) {
	setErr := make(chan error, 1)
	s := serve(t, grpcloop.Config{
		UnaryInterceptors: []grpc.UnaryServerInterceptor{func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			if err := grpc.SetHeader(ctx, metadata.Pairs("x-why", "refused")); err != nil {
				return nil, err
			}
			setErr <- grpc.SetHeader(ctx, metadata.MD{"X-Upper": {"v"}})
			return nil, status.Error(codes.PermissionDenied, "no")
		}},
	})
	var header metadata.MD
	_, err := s.client.EmptyCall(t.Context(), &testpb.Empty{}, grpc.Header(&header))
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("EmptyCall = %v, want PERMISSION_DENIED", err)
	}
	if got := header.Get("x-why"); len(got) != 1 || got[0] != "refused" {
		t.Errorf("header x-why = %q, want refused", got)
	}
	if err := <-setErr; err == nil {
		t.Error("SetHeader accepted an uppercase key")
	}
}

// TestReplyCutByDeadline: a reply of which part went out when the deadline
// passed cannot end with a status; the stream is reset.
func TestReplyCutByDeadline(t *testing.T) {
	c := unaryInWindow(t, 16, 100)
	f := c.next(t, func(f http2.Frame) bool {
		if h, ok := f.(*http2.MetaHeadersFrame); ok && h.StreamEnded() {
			t.Fatalf("a status (grpc-status %s) after part of the reply", fieldOf(h, "grpc-status"))
		}
		_, ok := f.(*http2.RSTStreamFrame)
		return ok
	}).(*http2.RSTStreamFrame)
	if f.ErrCode != http2.ErrCodeCancel {
		t.Errorf("RST_STREAM %v, want CANCEL", f.ErrCode)
	}
}

// TestNotAGRPCCall: a request that is not a POST, or not of gRPC's content
// type, gets the HTTP status and gRPC code grpc-go answers it with.
func TestNotAGRPCCall(t *testing.T) {
	s := serve(t, grpcloop.Config{})
	for _, c := range []struct {
		name               string
		kv                 []string
		httpStatus, status string
	}{
		{"GET", []string{":method", "GET"}, "405", "13"},
		{"JSON", []string{"content-type", "application/json"}, "415", "3"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rc := dialRaw(t, s.addr)
			rc.buf.Reset()
			fields := map[string]string{":method": "POST", ":scheme": "http", ":path": "/grpc.testing.TestService/EmptyCall", ":authority": "x", "content-type": "application/grpc"}
			fields[c.kv[0]] = c.kv[1]
			for _, name := range []string{":method", ":scheme", ":path", ":authority", "content-type"} {
				rc.enc.WriteField(hpack.HeaderField{Name: name, Value: fields[name]})
			}
			if err := rc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: rc.buf.Bytes(), EndHeaders: true, EndStream: true}); err != nil {
				t.Fatal(err)
			}
			f := rc.next(t, func(f http2.Frame) bool { _, ok := f.(*http2.MetaHeadersFrame); return ok }).(*http2.MetaHeadersFrame)
			if got := f.PseudoValue("status"); got != c.httpStatus {
				t.Errorf(":status %s, want %s", got, c.httpStatus)
			}
			if got := fieldOf(f, "grpc-status"); got != c.status {
				t.Errorf("grpc-status %s, want %s", got, c.status)
			}
		})
	}
}
