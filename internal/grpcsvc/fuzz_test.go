package grpcsvc_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionalphapb "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/thaw-dev/thaw/api/cachepb"
	"github.com/thaw-dev/thaw/api/commonpb"
	"github.com/thaw-dev/thaw/api/controlpb"
	"github.com/thaw-dev/thaw/api/leaderboardpb"
	"github.com/thaw-dev/thaw/api/pubsubpb"
	"github.com/thaw-dev/thaw/internal/grpcsvc"
	"github.com/thaw-dev/thaw/internal/store"
	"github.com/thaw-dev/thaw/internal/store/memory"
	"github.com/thaw-dev/thaw/server"
)

// fuzzedServices are the services FuzzHandlers drives, each with the
// implementation the server registers for it. Every method of their
// ServiceDesc is fuzzed, so a new RPC needs no change here and a new service
// is one line; TestFuzzedServicesMatchServer fails while one is missing.
var fuzzedServices = []struct {
	desc *grpc.ServiceDesc
	impl func(store.Store, store.Limits) any
}{
	{&cachepb.Scs_ServiceDesc, func(st store.Store, l store.Limits) any { return grpcsvc.NewCacheService(st, l) }},
	{&cachepb.Ping_ServiceDesc, func(store.Store, store.Limits) any { return grpcsvc.PingService{} }},
	{&controlpb.ScsControl_ServiceDesc, func(st store.Store, l store.Limits) any { return grpcsvc.NewControlService(st, l) }},
	{&pubsubpb.Pubsub_ServiceDesc, func(st store.Store, l store.Limits) any { return grpcsvc.NewPubsubService(st, l) }},
	{&leaderboardpb.Leaderboard_ServiceDesc, func(st store.Store, l store.Limits) any { return grpcsvc.NewLeaderboardService(st, l) }},
}

// unfuzzedServices are the services the server registers from grpc-go
// itself, which are not thaw's to fuzz.
var unfuzzedServices = []string{
	healthpb.Health_ServiceDesc.ServiceName,
	reflectionpb.ServerReflection_ServiceDesc.ServiceName,
	reflectionalphapb.ServerReflection_ServiceDesc.ServiceName,
}

// fuzzLimits are the service limits of the fuzzed handlers. MaxItemSize
// exceeds the store's MaxMemory (see newFuzzStore), so both the handler's
// size check and the store's refusal are reachable.
var fuzzLimits = store.Limits{MaxItemSize: 1 << 20}

// callTimeout bounds one fuzzed call. Today's handlers return at once; a
// long-lived stream (a topic subscription) ends when its caller goes away.
const callTimeout = 100 * time.Millisecond

// errUndecodable marks fuzz bytes that are not a request of the method; the
// transport would reject them before any handler ran.
var errUndecodable = errors.New("request does not unmarshal")

// rpc is one method of a fuzzed service, called the way grpc.Server calls
// it: through the generated handler in the ServiceDesc.
type rpc struct {
	name   string // full method name, such as "/cache_client.Scs/Get"
	impl   func(store.Store, store.Limits) any
	unary  grpc.MethodHandler // nil for a streaming method
	stream grpc.StreamHandler // nil for a unary method

	request       protoreflect.MessageType // the request message, learned by probing
	unimplemented bool                     // answers an empty request with UNIMPLEMENTED
}

// fuzzedRPCs lists every method of fuzzedServices in a fixed order (services
// in list order, then unary methods and streams in declaration order) and
// probes each with an empty request to learn its request type and whether
// it is implemented.
func fuzzedRPCs(tb testing.TB) []rpc {
	tb.Helper()
	var rpcs []rpc
	for _, svc := range fuzzedServices {
		for _, m := range svc.desc.Methods {
			rpcs = append(rpcs, rpc{name: "/" + svc.desc.ServiceName + "/" + m.MethodName, impl: svc.impl, unary: m.Handler})
		}
		for _, s := range svc.desc.Streams {
			rpcs = append(rpcs, rpc{name: "/" + svc.desc.ServiceName + "/" + s.StreamName, impl: svc.impl, stream: s.Handler})
		}
	}
	for i := range rpcs {
		r := &rpcs[i]
		st := newFuzzStore(tb)
		ctx, cancel := callContext("c")
		err := r.call(ctx, r.impl(st, fuzzLimits), func(m proto.Message) error {
			r.request = m.ProtoReflect().Type()
			return nil
		})
		cancel()
		st.Close()
		if r.request == nil {
			tb.Fatalf("%s never read its request (err %v)", r.name, err)
		}
		r.unimplemented = status.Code(err) == codes.Unimplemented
	}
	return rpcs
}

// callContext returns the context of one fuzzed call naming cache in its
// metadata, as the SDKs do, and bounded by callTimeout.
func callContext(cache string) (context.Context, context.CancelFunc) {
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs(grpcsvc.CacheHeader, cache))
	return context.WithTimeout(ctx, callTimeout)
}

// call hands one request to the method's handler with srv as the service
// implementation. decode fills the request message the handler allocated,
// as the transport's unmarshalling would. Responses are marshalled as the
// transport would; one that cannot be is an INTERNAL error, as on the wire.
func (r rpc) call(ctx context.Context, srv any, decode func(proto.Message) error) error {
	if r.stream != nil {
		return r.stream(srv, &serverStream{ctx: ctx, decode: decode})
	}
	resp, err := r.unary(srv, ctx, func(m any) error { return decode(m.(proto.Message)) }, nil)
	if err != nil {
		return err
	}
	return marshalResponse(resp)
}

// allows reports whether code is an answer the SDKs map to a client-side
// cause, rather than a server fault (INTERNAL, UNKNOWN and the like).
func (r rpc) allows(ctx context.Context, code codes.Code) bool {
	switch code {
	case codes.OK, codes.NotFound, codes.InvalidArgument, codes.FailedPrecondition,
		codes.ResourceExhausted, codes.AlreadyExists:
		return true
	case codes.Unimplemented:
		return r.unimplemented
	case codes.DeadlineExceeded, codes.Canceled:
		return ctx.Err() != nil
	}
	return false
}

// marshalResponse returns the INTERNAL status grpc.Server would send for a
// response it cannot marshal (or a nil one), or nil.
func marshalResponse(resp any) error {
	m, ok := resp.(proto.Message)
	if !ok || !m.ProtoReflect().IsValid() {
		return status.Errorf(codes.Internal, "response %#v is not a message to send", resp)
	}
	if _, err := proto.Marshal(m); err != nil {
		return status.Errorf(codes.Internal, "grpc: error while marshaling: %v", err)
	}
	return nil
}

// serverStream is the server side of one streaming call without a transport:
// RecvMsg decodes the request once and then reports io.EOF, SendMsg marshals
// each response and discards it.
type serverStream struct {
	ctx      context.Context
	decode   func(proto.Message) error
	received bool
}

func (s *serverStream) SetHeader(metadata.MD) error  { return nil }
func (s *serverStream) SendHeader(metadata.MD) error { return nil }
func (s *serverStream) SetTrailer(metadata.MD)       {}
func (s *serverStream) Context() context.Context     { return s.ctx }
func (s *serverStream) SendMsg(m any) error          { return marshalResponse(m) }

func (s *serverStream) RecvMsg(m any) error {
	if s.received {
		return io.EOF
	}
	s.received = true
	return s.decode(m.(proto.Message))
}

// newFuzzStore returns a fresh memory store with a memory cap, holding cache
// "c" with the integer "1" under key "k" and text under key "s". The caller
// closes it.
func newFuzzStore(tb testing.TB) *memory.Store {
	tb.Helper()
	st := memory.New(memory.Config{MaxMemory: 64 << 10})
	ctx := context.Background()
	if err := st.CreateCache(ctx, "c"); err != nil {
		tb.Fatal(err)
	}
	for key, value := range map[string]string{"k": "1", "s": "text"} {
		if err := st.Set(ctx, "c", []byte(key), []byte(value), time.Minute); err != nil {
			tb.Fatal(err)
		}
	}
	return st
}

// handWrittenSeeds are realistic requests and edge cases per method, on top
// of the ones generated for every method by generatedRequests.
var handWrittenSeeds = map[string][]proto.Message{
	cachepb.Scs_Get_FullMethodName:      {&cachepb.XGetRequest{CacheKey: []byte("k")}},
	cachepb.Scs_GetBatch_FullMethodName: {&cachepb.XGetBatchRequest{Items: []*cachepb.XGetRequest{{CacheKey: []byte("k")}, {}}}},
	cachepb.Scs_Set_FullMethodName: {
		&cachepb.XSetRequest{CacheKey: []byte("k"), CacheBody: []byte("1"), TtlMilliseconds: 1000},
		&cachepb.XSetRequest{CacheKey: []byte("k"), TtlMilliseconds: 1 << 62},
	},
	cachepb.Scs_SetBatch_FullMethodName: {&cachepb.XSetBatchRequest{Items: []*cachepb.XSetRequest{
		{CacheKey: []byte("k"), CacheBody: []byte("v"), TtlMilliseconds: 1000},
		{CacheKey: []byte("k"), CacheBody: []byte("v"), TtlMilliseconds: 1 << 62},
	}}},
	cachepb.Scs_SetIf_FullMethodName: {
		&cachepb.XSetIfRequest{CacheKey: []byte("k"), CacheBody: []byte("v"), TtlMilliseconds: 1000, Condition: &cachepb.XSetIfRequest_Equal{Equal: &commonpb.Equal{ValueToCheck: []byte("1")}}},
		&cachepb.XSetIfRequest{CacheKey: []byte("k"), CacheBody: []byte("v"), TtlMilliseconds: 1000},
	},
	cachepb.Scs_SetIfNotExists_FullMethodName: {&cachepb.XSetIfNotExistsRequest{CacheKey: []byte("k"), CacheBody: []byte("v"), TtlMilliseconds: 1000}},
	cachepb.Scs_Delete_FullMethodName:         {&cachepb.XDeleteRequest{CacheKey: []byte("k")}},
	cachepb.Scs_KeysExist_FullMethodName:      {&cachepb.XKeysExistRequest{CacheKeys: [][]byte{[]byte("k"), nil}}},
	cachepb.Scs_Increment_FullMethodName: {
		&cachepb.XIncrementRequest{CacheKey: []byte("k"), Amount: 1 << 62, TtlMilliseconds: 1000},
		&cachepb.XIncrementRequest{CacheKey: []byte("k"), Amount: math.MaxInt64, TtlMilliseconds: 1000},
		&cachepb.XIncrementRequest{CacheKey: []byte("k"), Amount: -1 << 63, TtlMilliseconds: 1000},
		&cachepb.XIncrementRequest{CacheKey: []byte("s"), Amount: 1, TtlMilliseconds: 1000},
	},
	cachepb.Scs_UpdateTtl_FullMethodName: {
		&cachepb.XUpdateTtlRequest{CacheKey: []byte("k"), UpdateTtl: &cachepb.XUpdateTtlRequest_IncreaseToMilliseconds{IncreaseToMilliseconds: 5000}},
		&cachepb.XUpdateTtlRequest{CacheKey: []byte("k")},
	},
	cachepb.Scs_ItemGetTtl_FullMethodName:  {&cachepb.XItemGetTtlRequest{CacheKey: []byte("k")}},
	cachepb.Scs_ItemGetType_FullMethodName: {&cachepb.XItemGetTypeRequest{CacheKey: []byte("k")}},
	controlpb.ScsControl_CreateCache_FullMethodName: {
		&controlpb.XCreateCacheRequest{CacheName: proto.String("bad\xff")},
		&controlpb.XCreateCacheRequest{CacheName: proto.String(strings.Repeat("n", 256))},
		&controlpb.XCreateCacheRequest{CacheName: proto.String(" ")},
	},
	controlpb.ScsControl_DeleteCache_FullMethodName: {&controlpb.XDeleteCacheRequest{CacheName: proto.String("nope")}},
	pubsubpb.Pubsub_Publish_FullMethodName: {
		&pubsubpb.XPublishRequest{CacheName: proto.String("c"), Topic: proto.String("t"), Value: &pubsubpb.XTopicValue{Kind: &pubsubpb.XTopicValue_Text{Text: "hi"}}},
		&pubsubpb.XPublishRequest{CacheName: proto.String("c"), Topic: proto.String("t"), Value: &pubsubpb.XTopicValue{Kind: &pubsubpb.XTopicValue_Text{Text: "bad\xff"}}},
		&pubsubpb.XPublishRequest{CacheName: proto.String("c"), Topic: proto.String("t"), Value: &pubsubpb.XTopicValue{}},
		&pubsubpb.XPublishRequest{CacheName: proto.String("c"), Topic: proto.String(" "), Value: &pubsubpb.XTopicValue{Kind: &pubsubpb.XTopicValue_Binary{Binary: make([]byte, 200<<10)}}},
		&pubsubpb.XPublishRequest{CacheName: proto.String("c"), Topic: proto.String("t"), Value: &pubsubpb.XTopicValue{Kind: &pubsubpb.XTopicValue_Binary{Binary: make([]byte, 200<<10)}}},
	},
	pubsubpb.Pubsub_Subscribe_FullMethodName: {
		&pubsubpb.XSubscriptionRequest{CacheName: proto.String("c"), Topic: proto.String("t")},
		&pubsubpb.XSubscriptionRequest{CacheName: proto.String("c"), Topic: proto.String("t"), ResumeAtTopicSequenceNumber: proto.Uint64(1), SequencePage: proto.Uint64(math.MaxUint64)},
		&pubsubpb.XSubscriptionRequest{CacheName: proto.String("nope"), Topic: proto.String("t")},
		&pubsubpb.XSubscriptionRequest{CacheName: proto.String("c"), Topic: proto.String("bad\xff")},
	},
}

// FuzzHandlers decodes arbitrary bytes as the request of any RPC of
// fuzzedServices, unary or streaming, and handles it against a fresh memory
// store, as grpc.Server would. The input picks the method (by index, modulo
// the number of methods), the cache named in the metadata and the request.
// Whatever the input, the handler must not panic and must answer with a
// status the SDKs map to a client-side cause, never INTERNAL or UNKNOWN.
//
// Methods are indexed in the order of fuzzedRPCs, so adding an RPC can move
// a checked-in seed file to another method; the seeds below are by name.
func FuzzHandlers(f *testing.F) {
	rpcs := fuzzedRPCs(f)
	index := map[string]uint16{}
	for i, r := range rpcs {
		index[r.name] = uint16(i)
		generated, err := generatedRequests(r.request)
		if err != nil {
			f.Fatalf("%s: %v", r.name, err)
		}
		for _, data := range generated {
			f.Add(uint16(i), "c", data)
		}
		for _, cache := range []string{"", "nope", "bad\xff"} {
			f.Add(uint16(i), cache, generated[0])
		}
		f.Add(uint16(i), "c", []byte{})
	}
	f.Add(uint16(0), "c", []byte{0xff, 0xff})
	for _, name := range slices.Sorted(maps.Keys(handWrittenSeeds)) {
		msgs := handWrittenSeeds[name]
		i, ok := index[name]
		if !ok {
			f.Fatalf("seed for %s, which no fuzzed service has", name)
		}
		for _, m := range msgs {
			if m.ProtoReflect().Type() != rpcs[i].request {
				f.Fatalf("seed %T for %s, want %v", m, name, rpcs[i].request.Descriptor().FullName())
			}
			data, err := proto.Marshal(m)
			if err != nil {
				f.Fatalf("seed for %s: %v", name, err)
			}
			f.Add(i, "c", data)
		}
	}

	f.Fuzz(func(t *testing.T, method uint16, cache string, data []byte) {
		r := rpcs[int(method)%len(rpcs)]
		st := newFuzzStore(t)
		defer st.Close()
		ctx, cancel := callContext(cache)
		defer cancel()
		err := r.call(ctx, r.impl(st, fuzzLimits), func(m proto.Message) error {
			if err := proto.Unmarshal(data, m); err != nil {
				return fmt.Errorf("%w: %v", errUndecodable, err)
			}
			return nil
		})
		if errors.Is(err, errUndecodable) {
			return
		}
		if code := status.Code(err); !r.allows(ctx, code) {
			t.Fatalf("%s in cache %q with request %x = %v (code %v), want a client-side status", r.name, cache, data, err, code)
		}
	})
}

// TestFuzzedServicesMatchServer fails when the server registers a service
// that fuzzedServices lacks, or fuzzedServices holds one it does not serve.
func TestFuzzedServicesMatchServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv, err := server.Start(ctx, server.Config{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatalf("server.Start: %v", err)
	}
	defer srv.Close()
	conn, err := grpc.NewClient(srv.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("grpc.NewClient(%s): %v", srv.Addr(), err)
	}
	defer conn.Close()
	stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatalf("ServerReflectionInfo: %v", err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatalf("reflection Send: %v", err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatalf("reflection Recv: %v", err)
	}
	var served []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		served = append(served, s.GetName())
	}
	if len(served) == 0 {
		t.Fatalf("reflection lists no services: %v", resp)
	}

	var fuzzed []string
	for _, svc := range fuzzedServices {
		fuzzed = append(fuzzed, svc.desc.ServiceName)
	}
	for _, name := range served {
		if !slices.Contains(fuzzed, name) && !slices.Contains(unfuzzedServices, name) {
			t.Errorf("server registers %s, missing from fuzzedServices in fuzz_test.go: add its ServiceDesc and implementation", name)
		}
	}
	for _, name := range fuzzed {
		if !slices.Contains(served, name) {
			t.Errorf("fuzzedServices has %s, which the server does not register (it serves %v)", name, served)
		}
	}
}

// fillMode chooses the values fill sets.
type fillMode int

const (
	typicalValues   fillMode = iota // key "k", name "c", TTL and counts 1000, amount 1
	boundaryNumbers                 // typical bytes and strings, the largest numbers
	emptyText                       // empty bytes, bad UTF-8 (else empty) strings, typical numbers
)

// generatedRequests returns requests of type typ with every field set, one
// per fill mode and top-level oneof choice, typical values first.
func generatedRequests(typ protoreflect.MessageType) ([][]byte, error) {
	choices := 1
	oneofs := typ.Descriptor().Oneofs()
	for i := range oneofs.Len() {
		choices = max(choices, oneofs.Get(i).Fields().Len())
	}
	var out [][]byte
	for _, mode := range []fillMode{typicalValues, boundaryNumbers, emptyText} {
		for choice := range choices {
			m := typ.New()
			filler{mode: mode, choice: choice, badUTF8: true}.fill(m, 3)
			data, err := proto.Marshal(m.Interface())
			if err != nil { // a string field that must hold UTF-8
				m = typ.New()
				filler{mode: mode, choice: choice}.fill(m, 3)
				data, err = proto.Marshal(m.Interface())
			}
			if err != nil {
				return nil, fmt.Errorf("generated %v request: %w", typ.Descriptor().FullName(), err)
			}
			out = append(out, data)
		}
	}
	return out, nil
}

// filler sets every field of a message, recursively.
type filler struct {
	mode    fillMode
	choice  int  // of every oneof, the field at this index (modulo its size)
	badUTF8 bool // in emptyText mode, strings are "bad\xff" rather than ""
}

// fill sets every field of m, and of its message fields down to depth levels.
func (f filler) fill(m protoreflect.Message, depth int) {
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if o := fd.ContainingOneof(); o != nil && !o.IsSynthetic() && o.Fields().Get(f.choice%o.Fields().Len()) != fd {
			continue
		}
		if fd.Message() != nil && !fd.IsMap() && depth == 0 {
			continue
		}
		switch {
		case fd.IsList():
			list := m.Mutable(fd).List()
			list.Append(f.value(fd, list.NewElement, depth))
		case fd.IsMap():
			mp := m.Mutable(fd).Map()
			mp.Set(f.scalar(fd.MapKey()).MapKey(), f.value(fd.MapValue(), mp.NewValue, depth))
		case fd.Message() != nil:
			f.fill(m.Mutable(fd).Message(), depth-1)
		default:
			m.Set(fd, f.scalar(fd))
		}
	}
}

// value returns a filled list element or map value of field fd; newValue
// makes an empty one when it is a message.
func (f filler) value(fd protoreflect.FieldDescriptor, newValue func() protoreflect.Value, depth int) protoreflect.Value {
	if fd.Message() == nil {
		return f.scalar(fd)
	}
	v := newValue()
	if depth > 0 {
		f.fill(v.Message(), depth-1)
	}
	return v
}

// scalar returns the value of a non-message field.
func (f filler) scalar(fd protoreflect.FieldDescriptor) protoreflect.Value {
	big := f.mode == boundaryNumbers
	pick := func(typical, boundary protoreflect.Value) protoreflect.Value {
		if big {
			return boundary
		}
		return typical
	}
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(true)
	case protoreflect.EnumKind:
		values := fd.Enum().Values()
		return pick(protoreflect.ValueOfEnum(values.Get(values.Len()-1).Number()), protoreflect.ValueOfEnum(math.MaxInt32))
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return pick(protoreflect.ValueOfInt32(1), protoreflect.ValueOfInt32(math.MaxInt32))
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return pick(protoreflect.ValueOfInt64(1), protoreflect.ValueOfInt64(math.MaxInt64))
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return pick(protoreflect.ValueOfUint32(1000), protoreflect.ValueOfUint32(math.MaxUint32))
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return pick(protoreflect.ValueOfUint64(1000), protoreflect.ValueOfUint64(math.MaxUint64))
	case protoreflect.FloatKind:
		return pick(protoreflect.ValueOfFloat32(1), protoreflect.ValueOfFloat32(float32(math.Inf(1))))
	case protoreflect.DoubleKind:
		return pick(protoreflect.ValueOfFloat64(1), protoreflect.ValueOfFloat64(math.Inf(1)))
	case protoreflect.StringKind:
		switch {
		case f.mode != emptyText:
			return protoreflect.ValueOfString("c")
		case f.badUTF8:
			return protoreflect.ValueOfString("bad\xff")
		}
		return protoreflect.ValueOfString("")
	case protoreflect.BytesKind:
		if f.mode == emptyText {
			return protoreflect.ValueOfBytes([]byte{})
		}
		return protoreflect.ValueOfBytes([]byte("k"))
	}
	panic(fmt.Sprintf("field %v has unexpected kind %v", fd.FullName(), fd.Kind()))
}
